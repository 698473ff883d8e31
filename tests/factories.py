"""Test data written straight into the tables: events with revisions and associated triggers, and
their alerts (publication, alert, privacy and review tests share these)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3
from sqlalchemy.orm import Session

from crowdquake.storage.models import Alert, Device, Event, EventRevision, EventTrigger, Trigger


@dataclass(frozen=True)
class Quake:
    public_id: str
    origin_time: datetime
    lat_deg: float
    lon_deg: float
    depth_km: float
    magnitude: float | None
    status: str = "confirmed"
    revisions: int = 1
    triggers: int = 0
    detector_key: str | None = None


def quake_now(now: datetime, *, ago_s: float = 8.0, **fields: Any) -> Quake:
    """A quake that happened ``ago_s`` seconds before ``now``, with a fresh public id; the
    defaults sit in the San Francisco Bay Area (37.7 N, 122.5 W, 8 km, M 5.5)."""
    values: dict[str, Any] = {
        "public_id": f"cq{uuid.uuid4().hex[:10]}",
        "origin_time": now - timedelta(seconds=ago_s),
        "lat_deg": 37.7,
        "lon_deg": -122.5,
        "depth_km": 8.0,
        "magnitude": 5.5,
    }
    values.update(fields)
    return Quake(**values)


def add_quake(session: Session, q: Quake, *, device: Device | None = None) -> Event:
    """An event whose revision k (1-based) moves 0.01° north and grows 0.1 in magnitude; the
    last one is preferred and has ``q``'s numbers."""
    event = Event(
        id=uuid.uuid4(),
        public_id=q.public_id,
        status=q.status,
        region_key=h3.latlng_to_cell(q.lat_deg, q.lon_deg, 2),
        detector_key=q.detector_key,
        created_at=q.origin_time + timedelta(seconds=5),
        updated_at=q.origin_time + timedelta(seconds=5 + q.revisions),
    )
    session.add(event)
    session.flush()
    last = None
    for k in range(1, q.revisions + 1):
        back = q.revisions - k
        last = EventRevision(
            event_id=event.id,
            version=k,
            origin_time=q.origin_time,
            lat_deg=q.lat_deg - 0.01 * back,
            lon_deg=q.lon_deg,
            depth_km=q.depth_km,
            magnitude=None if q.magnitude is None else q.magnitude - 0.1 * back,
            magnitude_uncertainty=0.3,
            horizontal_uncertainty_km=4.0,
            depth_uncertainty_km=5.0,
            origin_time_uncertainty_s=0.8,
            n_triggers=max(q.triggers, 5) + k,
            n_active=200,
            detection_log10_p=-9.0,
            method="crowdquake-grid-v1",
            created_at=q.origin_time + timedelta(seconds=4 + k),
        )
        session.add(last)
        session.flush()
    assert last is not None
    event.preferred_revision_id = last.id
    if q.triggers:
        if device is None:
            device = Device(
                id=uuid.uuid4(),
                token_hash="0" * 64,
                platform="android",
                app_version="1.0.0",
                model_version="cq-edge-1",
                created_at=q.origin_time - timedelta(days=1),
            )
            session.add(device)
            session.flush()
        for i in range(q.triggers):
            lat, lon = q.lat_deg + 0.05 * (i + 1), q.lon_deg + 0.03 * i
            trigger = Trigger(
                id=uuid.uuid4(),
                device_id=device.id,
                trigger_time=q.origin_time + timedelta(seconds=2 + i),
                received_at=q.origin_time + timedelta(seconds=3 + i),
                clock_offset_s=0.0,
                lat_deg=lat,
                lon_deg=lon,
                accuracy_m=10.0,
                cell=h3.latlng_to_cell(lat, lon, 7),
                region_key=event.region_key,
                pga_ms2=0.5,
                score=0.9,
                model_version="cq-edge-1",
                phase_hint="P",
                body_digest=hashlib.sha256(str(i).encode()).hexdigest(),
                event_id=event.id,
                status="associated",
            )
            session.add(trigger)
            session.flush()
            session.add(
                EventTrigger(
                    event_id=event.id, trigger_id=trigger.id, phase="P", residual_s=0.1 * i
                )
            )
        session.flush()
    return event


def add_alert(
    session: Session,
    event: Event,
    now: datetime,
    cells: Sequence[tuple[str, float, float]],
    *,
    level: str = "take_action",
    revision: int = 1,
    issued_ago_s: float = 0.0,
) -> Alert:
    """An alert of ``event``'s ``revision``; ``cells`` are (H3 cell, predicted MMI, S arrival in
    seconds after ``now``)."""
    alert = Alert(
        event_id=event.id,
        revision=revision,
        level=level,
        cells=[
            {
                "cell": cell,
                "predicted_mmi": mmi,
                "s_arrival_time": (now + timedelta(seconds=s_after_s)).isoformat(),
            }
            for cell, mmi, s_after_s in cells
        ],
        issued_at=now - timedelta(seconds=issued_ago_s),
    )
    session.add(alert)
    session.flush()
    return alert


def trigger_body(now: datetime, **overrides: Any) -> dict[str, Any]:
    """A valid ``POST /api/v1/triggers`` body (Berkeley, 2 s before ``now``), fields overridable."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "trigger_time": (now - timedelta(seconds=2)).isoformat(),
        "clock_offset_s": 0.25,
        "latitude": 37.87,
        "longitude": -122.26,
        "accuracy_m": 15.0,
        "pga_ms2": 0.21,
        "score": 0.93,
        "model_version": "cq-edge-1",
        "phase_hint": "P",
    }
    body.update(overrides)
    return body


def heartbeat_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /api/v1/heartbeats`` body, fields overridable."""
    body: dict[str, Any] = {
        "latitude": 37.87123,
        "longitude": -122.26456,
        "accuracy_m": 12.0,
        "steady": True,
        "charging": True,
        "app_version": "1.0.0",
        "model_version": "cq-edge-1",
        "clock_offset_s": -0.12,
    }
    body.update(overrides)
    return body
