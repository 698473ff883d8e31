"""Replaying recorded or simulated phone data through the live pipeline on the data's clock.

The same services as the running system (register, heartbeat, ingest, sweep, region run) are
driven by a clock that follows the data: ingest happens at each trigger's arrival time, and the
sweeper runs every ``tick_s`` of data time in which something arrived.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.services.detection import (
    DetectorCache,
    PipelineConfig,
    claim_dirty_regions,
    run_region,
)
from crowdquake.services.devices import register_device
from crowdquake.services.heartbeats import HeartbeatInput, record_heartbeat
from crowdquake.services.triggers import TriggerInput, ingest_triggers
from crowdquake.storage.models import Event, EventRevision

REPLAY_NAMESPACE = uuid.UUID("5b0c3d4e-8f61-4c1a-9d55-0e3a7c2b9f10")


@dataclass(frozen=True, slots=True)
class ReplayTrigger:
    time: datetime
    lat_deg: float
    lon_deg: float
    pga_ms2: float | None
    device_id: str
    score: float = 1.0
    received: datetime | None = None  # server arrival; default: the trigger time

    @property
    def arrival(self) -> datetime:
        return self.received or self.time


@dataclass(frozen=True, slots=True)
class ReplayHeartbeat:
    device_id: str
    lat_deg: float
    lon_deg: float
    time: datetime


@dataclass(frozen=True)
class ReplayData:
    triggers: Sequence[ReplayTrigger]
    heartbeats: Sequence[ReplayHeartbeat] = ()


def replay(
    session_factory: sessionmaker[Session],
    data: ReplayData,
    config: PipelineConfig,
    *,
    cell_resolution: int = 7,
    tick_s: float = 0.25,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the data through the pipeline; return the events in the ``replay`` JSON contract."""
    triggers = sorted(data.triggers, key=lambda t: (t.arrival, t.time))
    heartbeats = sorted(data.heartbeats, key=lambda h: h.time)
    cache = DetectorCache()
    with session_factory() as session:
        devices = _register(
            session, {t.device_id for t in triggers} | {h.device_id for h in heartbeats}
        )
        session.commit()
    next_heartbeat = 0
    i = 0
    tick = timedelta(seconds=tick_s)
    while i < len(triggers):
        now = triggers[i].arrival + tick
        with session_factory() as session:
            while next_heartbeat < len(heartbeats) and heartbeats[next_heartbeat].time <= now:
                hb = heartbeats[next_heartbeat]
                record_heartbeat(
                    session,
                    devices[hb.device_id],
                    HeartbeatInput(
                        hb.lat_deg, hb.lon_deg, 10.0, True, False, "replay", "replay", 0.0
                    ),
                    now=hb.time,
                    cell_resolution=cell_resolution,
                )
                next_heartbeat += 1
            by_device: dict[str, list[tuple[int, ReplayTrigger]]] = defaultdict(list)
            while i < len(triggers) and triggers[i].arrival <= now:
                by_device[triggers[i].device_id].append((i, triggers[i]))
                i += 1
            for device_key, items in by_device.items():
                for index, item in items:
                    ingest_triggers(
                        session,
                        devices[device_key],
                        [_trigger_input(index, item)],
                        now=item.arrival,
                        cell_resolution=cell_resolution,
                    )
            for region in claim_dirty_regions(session, now, config):
                run_region(session, region, now, config, cache)
            session.commit()
        if progress is not None:
            progress(i, len(triggers))
    with session_factory() as session:
        return collect_events(session)


def _register(session: Session, device_keys: set[str]) -> dict[str, uuid.UUID]:
    from datetime import UTC

    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return {
        # a replay re-plays a recorded network: its phones are established (registered long
        # ago, with a heartbeat history), so their trust is earned, not on probation
        key: register_device(
            session,
            platform="other",
            app_version="replay",
            model_version="replay",
            now=epoch,
            heartbeat_days=365,
        ).device_id
        for key in sorted(device_keys)
    }


def _trigger_input(index: int, item: ReplayTrigger) -> TriggerInput:
    return TriggerInput(
        id=uuid.uuid5(REPLAY_NAMESPACE, f"{index}:{item.device_id}:{item.time.isoformat()}"),
        device_time=item.time,
        clock_offset_s=0.0,
        lat_deg=item.lat_deg,
        lon_deg=item.lon_deg,
        accuracy_m=10.0,
        pga_ms2=item.pga_ms2,
        score=item.score,
        model_version="replay",
        phase_hint=None,
    )


def revision_dict(rev: EventRevision) -> dict[str, Any]:
    return {
        "version": rev.version,
        "created_at": rev.created_at.isoformat(),
        "origin_time": rev.origin_time.isoformat(),
        "latitude": rev.lat_deg,
        "longitude": rev.lon_deg,
        "depth_km": rev.depth_km,
        "magnitude": rev.magnitude,
        "magnitude_uncertainty": rev.magnitude_uncertainty,
        "horizontal_uncertainty_km": rev.horizontal_uncertainty_km,
        "n_triggers": rev.n_triggers,
        "n_active": rev.n_active,
        "method": rev.method,
    }


def collect_events(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Events with their revisions, oldest first, in the ``replay`` JSON contract."""
    query = select(Event).where(Event.status.in_(("candidate", "confirmed")))
    if since is not None:
        query = query.where(Event.created_at >= since)
    out = []
    for event in session.scalars(query.order_by(Event.created_at)):
        revisions = session.scalars(
            select(EventRevision)
            .where(EventRevision.event_id == event.id)
            .order_by(EventRevision.version)
        ).all()
        if not revisions:
            continue
        final = revisions[-1]
        out.append(
            {
                "public_id": event.public_id,
                "status": event.status,
                "origin_time": final.origin_time.isoformat(),
                "latitude": final.lat_deg,
                "longitude": final.lon_deg,
                "depth_km": final.depth_km,
                "magnitude": final.magnitude,
                "detected_at": revisions[0].created_at.isoformat(),
                "n_triggers": final.n_triggers,
                "revisions": [revision_dict(r) for r in revisions],
            }
        )
    return out


def shifted(data: ReplayData, delta: timedelta) -> ReplayData:
    """The same data moved in time by ``delta`` (e.g. to the present for a live replay)."""
    return ReplayData(
        [
            ReplayTrigger(
                t.time + delta,
                t.lat_deg,
                t.lon_deg,
                t.pga_ms2,
                t.device_id,
                t.score,
                t.received + delta if t.received else None,
            )
            for t in data.triggers
        ],
        [
            ReplayHeartbeat(h.device_id, h.lat_deg, h.lon_deg, h.time + delta)
            for h in data.heartbeats
        ],
    )


def load_at_once(
    session: Session, data: ReplayData, now: datetime, cell_resolution: int = 7
) -> dict[str, uuid.UUID]:
    """Register the devices, record their heartbeats and ingest every trigger at ``now``."""
    devices = _register(
        session, {t.device_id for t in data.triggers} | {h.device_id for h in data.heartbeats}
    )
    for hb in data.heartbeats:
        record_heartbeat(
            session,
            devices[hb.device_id],
            HeartbeatInput(hb.lat_deg, hb.lon_deg, 10.0, True, False, "replay", "replay", 0.0),
            now=min(hb.time, now),
            cell_resolution=cell_resolution,
        )
    for index, item in enumerate(data.triggers):
        ingest_triggers(
            session,
            devices[item.device_id],
            [_trigger_input(index, item)],
            now=now,
            cell_resolution=cell_resolution,
        )
    return devices
