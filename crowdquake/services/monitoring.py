"""What the operator console shows: events with their evidence, the network, the pipeline.

Read-only queries shaped for the console's pages and JSON endpoints. Positions of cells are sent
as polygons (lat, lon pairs from H3), times as ISO 8601 UTC, distances in km, times in s.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3
import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import HomogeneousModel
from crowdquake.services.audit import recent
from crowdquake.services.review import get_event
from crowdquake.storage.models import (
    Alert,
    AlertDelivery,
    BackgroundRate,
    Device,
    DeviceState,
    Event,
    EventRevision,
    EventTrigger,
    RegionAlertSwitch,
    RegionState,
    Trigger,
)
from crowdquake.storage.models.events import EVENT_STATUSES

MAX_EVENTS = 200
MAX_SUSPICIOUS = 50
# Suspicious-device heuristics (console hints, not detection rules): reputation below this,
# more triggers than this in the last hour, or triggers this far from the device's heartbeat cell.
LOW_TRUST = 0.3
EXCESS_TRIGGERS_PER_HOUR = 12
TELEPORT_KM = 50.0


@dataclass(frozen=True, slots=True)
class EventFilter:
    since: datetime
    min_magnitude: float | None = None
    status: str | None = None
    region_key: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def cell_polygon(cell: str) -> list[list[float]]:
    return [[round(lat, 5), round(lon, 5)] for lat, lon in h3.cell_to_boundary(cell)]


def list_events(session: Session, flt: EventFilter) -> list[dict[str, Any]]:
    """Events updated since ``flt.since`` (newest first), with their preferred revision."""
    query = (
        select(Event, EventRevision)
        .outerjoin(EventRevision, EventRevision.id == Event.preferred_revision_id)
        .where(Event.updated_at >= flt.since)
        .order_by(Event.updated_at.desc())
        .limit(MAX_EVENTS)
    )
    if flt.status:
        query = query.where(Event.status == flt.status)
    if flt.region_key:
        query = query.where(Event.region_key == flt.region_key)
    if flt.min_magnitude is not None:
        query = query.where(EventRevision.magnitude >= flt.min_magnitude)
    rows = session.execute(query).all()
    ids = [e.id for e, _ in rows]
    n_alerts = (
        dict(
            session.execute(
                select(Alert.event_id, func.count())
                .where(Alert.event_id.in_(ids))
                .group_by(Alert.event_id)
            ).all()
        )
        if ids
        else {}
    )
    return [
        {
            "public_id": e.public_id,
            "status": e.status,
            "region_key": e.region_key,
            "created_at": _iso(e.created_at),
            "updated_at": _iso(e.updated_at),
            "origin_time": _iso(r.origin_time) if r else None,
            "latitude": r.lat_deg if r else None,
            "longitude": r.lon_deg if r else None,
            "depth_km": r.depth_km if r else None,
            "magnitude": r.magnitude if r else None,
            "n_triggers": r.n_triggers if r else 0,
            "revision": r.version if r else 0,
            "n_alerts": int(n_alerts.get(e.id, 0)),
        }
        for e, r in rows
    ]


def event_detail(
    session: Session, public_id: str, params: DetectionParams | None = None
) -> dict[str, Any]:
    """Everything the event page draws: revisions, triggers with device trust, alert cells,
    the moveout curves (P and S travel times of the preferred hypocentre) and the audit trail."""
    p = params or DetectionParams()
    event = get_event(session, public_id)
    revisions = session.scalars(
        select(EventRevision)
        .where(EventRevision.event_id == event.id)
        .order_by(EventRevision.version)
    ).all()
    preferred = next((r for r in revisions if r.id == event.preferred_revision_id), None)
    if preferred is None and revisions:
        preferred = revisions[-1]
    rows = session.execute(
        select(EventTrigger, Trigger, Device.reputation, Device.status)
        .join(Trigger, Trigger.id == EventTrigger.trigger_id)
        .join(Device, Device.id == Trigger.device_id)
        .where(EventTrigger.event_id == event.id)
        .order_by(Trigger.trigger_time)
    ).all()
    triggers = []
    for link, t, reputation, device_status in rows:
        distance_km = (
            float(haversine_km(preferred.lat_deg, preferred.lon_deg, t.lat_deg, t.lon_deg))
            if preferred
            else None
        )
        triggers.append(
            {
                "trigger_id": str(t.id),
                "device_id": str(t.device_id),
                "time": _iso(t.trigger_time),
                "t_s": (t.trigger_time - preferred.origin_time).total_seconds()
                if preferred
                else None,
                "distance_km": distance_km,
                "latitude": t.lat_deg,
                "longitude": t.lon_deg,
                "phase": link.phase,
                "residual_s": link.residual_s,
                "pga_ms2": t.pga_ms2,
                "score": t.score,
                "server_score": t.server_score,
                "model_version": t.model_version,
                "device_trust": reputation,
                "device_status": device_status,
            }
        )
    alerts = []
    for alert in session.scalars(
        select(Alert).where(Alert.event_id == event.id).order_by(Alert.id)
    ):
        cells = [
            {
                "cell": c["cell"],
                "predicted_mmi": c.get("predicted_mmi"),
                "polygon": cell_polygon(c["cell"]),
            }
            for c in alert.cells or ()
            if isinstance(c.get("cell"), str) and h3.is_valid_cell(c["cell"])
        ]
        alerts.append(
            {
                "id": alert.id,
                "revision": alert.revision,
                "level": alert.level,
                "issued_at": _iso(alert.issued_at),
                "cells": cells,
            }
        )
    moveout: dict[str, Any] = {}
    if preferred is not None:
        model = HomogeneousModel(p.vp_km_s, p.vs_km_s)
        distances = [float(tr["distance_km"] or 0.0) for tr in triggers]
        far = max([*distances, 20.0]) * 1.1
        d = np.linspace(0.0, far, 60)
        moveout = {
            "distance_km": [round(float(x), 3) for x in d],
            "p_s": [round(float(x), 3) for x in model.travel_time_s(d, preferred.depth_km, "P")],
            "s_s": [round(float(x), 3) for x in model.travel_time_s(d, preferred.depth_km, "S")],
            "vp_km_s": p.vp_km_s,
            "vs_km_s": p.vs_km_s,
        }
    merged_into = session.get(Event, event.merged_into_id) if event.merged_into_id else None
    return {
        "public_id": event.public_id,
        "status": event.status,
        "region_key": event.region_key,
        "created_at": _iso(event.created_at),
        "updated_at": _iso(event.updated_at),
        "merged_into": merged_into.public_id if merged_into else None,
        "preferred": _revision(preferred) if preferred else None,
        "revisions": [_revision(r) for r in revisions],
        "triggers": triggers,
        "alerts": alerts,
        "moveout": moveout,
        "audit": [
            {"at": _iso(a.at), "actor": a.actor, "action": a.action, "details": a.details}
            for a in recent(session, target_type="event", target_id=event.public_id, limit=50)
        ],
    }


def _revision(r: EventRevision) -> dict[str, Any]:
    return {
        "version": r.version,
        "created_at": _iso(r.created_at),
        "origin_time": _iso(r.origin_time),
        "latitude": r.lat_deg,
        "longitude": r.lon_deg,
        "depth_km": r.depth_km,
        "magnitude": r.magnitude,
        "magnitude_uncertainty": r.magnitude_uncertainty,
        "horizontal_uncertainty_km": r.horizontal_uncertainty_km,
        "n_triggers": r.n_triggers,
        "n_active": r.n_active,
        "method": r.method,
    }


def network_summary(session: Session, now: datetime, active_max_age_s: float) -> dict[str, Any]:
    """Active devices per cell, triggers and heartbeats per hour (last 24 h), background rate
    per region and local solar hour, and devices worth a look."""
    fresh = now - timedelta(seconds=active_max_age_s)
    per_cell = session.execute(
        select(DeviceState.cell, func.count())
        .join(Device, Device.id == DeviceState.device_id)
        .where(
            DeviceState.last_heartbeat_at >= fresh,
            DeviceState.steady.is_(True),
            Device.status == "active",
        )
        .group_by(DeviceState.cell)
    ).all()
    cells = [{"cell": c, "active": int(n), "polygon": cell_polygon(c)} for c, n in per_cell]
    day_ago = now - timedelta(hours=24)
    trig_times = session.scalars(
        select(Trigger.trigger_time).where(
            Trigger.trigger_time >= day_ago, Trigger.trigger_time <= now
        )
    ).all()
    beat_times = session.scalars(
        select(DeviceState.last_heartbeat_at).where(DeviceState.last_heartbeat_at >= day_ago)
    ).all()
    hours = [
        (day_ago + timedelta(hours=i)).replace(minute=0, second=0, microsecond=0) for i in range(25)
    ]
    triggers_per_hour = _histogram(trig_times, hours)
    heartbeats_per_hour = _histogram(beat_times, hours)
    background = [
        {
            "region_key": r.region_key,
            "hour_of_day": r.hour_of_day,
            "n_triggers": r.n_triggers,
            "device_hours": round(r.device_hours, 2),
            "rate_per_device_hour": (r.n_triggers / r.device_hours) if r.device_hours > 0 else None,
        }
        for r in session.scalars(
            select(BackgroundRate).order_by(BackgroundRate.region_key, BackgroundRate.hour_of_day)
        )
    ]
    return {
        "now": _iso(now),
        "active_devices": sum(c["active"] for c in cells),
        "cells": cells,
        "hours": [_iso(h) for h in hours],
        "triggers_per_hour": triggers_per_hour,
        "heartbeats_per_hour": heartbeats_per_hour,
        "background": background,
        "suspicious": suspicious_devices(session, now),
    }


def _histogram(times: Sequence[datetime], hours: list[datetime]) -> list[int]:
    counts = [0] * len(hours)
    start = hours[0]
    for t in times:
        i = int((t - start).total_seconds() // 3600)
        if 0 <= i < len(hours):
            counts[i] += 1
    return counts


def suspicious_devices(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Devices with low trust, too many triggers in the last hour, or triggers far from their
    heartbeat position (teleports); blocked devices are listed too so they can be unblocked."""
    hour_ago = now - timedelta(hours=1)
    counts = dict(
        session.execute(
            select(Trigger.device_id, func.count())
            .where(Trigger.trigger_time >= hour_ago)
            .group_by(Trigger.device_id)
            .having(func.count() > EXCESS_TRIGGERS_PER_HOUR)
        ).all()
    )
    reasons: dict[uuid.UUID, list[str]] = {}
    for device_id, n in counts.items():
        reasons.setdefault(device_id, []).append(f"{n} triggers in the last hour")
    for device_id, rep in session.execute(
        select(Device.id, Device.reputation)
        .where(Device.reputation < LOW_TRUST)
        .limit(MAX_SUSPICIOUS)
    ):
        reasons.setdefault(device_id, []).append(f"low trust {rep:.2f}")
    for device_id in session.scalars(
        select(Device.id).where(Device.status == "blocked").limit(MAX_SUSPICIOUS)
    ):
        reasons.setdefault(device_id, [])
    far = session.execute(
        select(
            Trigger.device_id,
            Trigger.lat_deg,
            Trigger.lon_deg,
            DeviceState.lat_deg,
            DeviceState.lon_deg,
        )
        .join(DeviceState, and_(DeviceState.device_id == Trigger.device_id))
        .where(Trigger.trigger_time >= now - timedelta(hours=24))
        .limit(20000)
    ).all()
    for device_id, tlat, tlon, hlat, hlon in far:
        km = float(haversine_km(tlat, tlon, hlat, hlon))
        if km > TELEPORT_KM and not any(
            r.startswith("teleport") for r in reasons.get(device_id, [])
        ):
            reasons.setdefault(device_id, []).append(
                f"teleport: trigger {km:.0f} km from heartbeat"
            )
    if not reasons:
        return []
    devices = {
        d.id: d
        for d in session.scalars(
            select(Device).where(Device.id.in_(list(reasons)[:MAX_SUSPICIOUS]))
        )
    }
    return [
        {
            "device_id": str(d.id),
            "status": d.status,
            "trust": d.reputation,
            "platform": d.platform,
            "app_version": d.app_version,
            "reasons": reasons[d.id],
        }
        for d in sorted(devices.values(), key=lambda d: d.reputation)
    ]


def operations_summary(session: Session, now: datetime) -> dict[str, Any]:
    """Ingest rate, queue depth and lag, per-region runs and switches, failed deliveries."""

    def received_since(seconds: float) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Trigger)
                .where(Trigger.received_at >= now - timedelta(seconds=seconds))
            )
            or 0
        )

    last_min, last_5min = received_since(60), received_since(300)
    pending = session.execute(
        select(func.count(), func.min(Trigger.received_at)).where(Trigger.status == "new")
    ).one()
    regions = session.scalars(
        select(RegionState)
        .order_by(RegionState.last_run_finished_at.desc().nulls_last())
        .limit(100)
    ).all()
    queued = [r for r in regions if r.queued_at is not None]
    oldest_queued = min((r.queued_at for r in queued if r.queued_at), default=None)
    switches = {s.region_key: s for s in session.scalars(select(RegionAlertSwitch))}
    dead = session.scalars(
        select(AlertDelivery)
        .where(AlertDelivery.status == "dead")
        .order_by(AlertDelivery.updated_at.desc())
        .limit(50)
    ).all()
    retrying = session.scalars(
        select(AlertDelivery)
        .where(
            AlertDelivery.status == "pending",
            AlertDelivery.attempts > 0,
            AlertDelivery.last_error.is_not(None),
        )
        .order_by(AlertDelivery.updated_at.desc())
        .limit(20)
    ).all()
    errors = [
        {"at": _iso(d.updated_at), "source": f"webhook {d.target}", "message": d.last_error or ""}
        for d in [*retrying, *dead]
    ]
    for r in queued:
        if r.queued_at and (now - r.queued_at).total_seconds() > 60:
            errors.append(
                {
                    "at": _iso(r.queued_at),
                    "source": f"region {r.region_key}",
                    "message": "association run queued for over a minute",
                }
            )
    errors.sort(key=lambda e: e["at"] or "", reverse=True)
    return {
        "now": _iso(now),
        "ingest": {
            "last_minute": last_min,
            "per_s_1min": last_min / 60.0,
            "per_s_5min": last_5min / 300.0,
        },
        "queue": {
            "unprocessed_triggers": int(pending[0] or 0),
            "oldest_unprocessed_age_s": (now - pending[1]).total_seconds() if pending[1] else None,
            "queued_region_runs": len(queued),
            "oldest_queued_age_s": (now - oldest_queued).total_seconds() if oldest_queued else None,
        },
        "regions": [
            {
                "region_key": r.region_key,
                "runs": r.runs,
                "last_run_finished_at": _iso(r.last_run_finished_at),
                "lag_s": (now - r.last_run_finished_at).total_seconds()
                if r.last_run_finished_at
                else None,
                "queued": r.queued_at is not None,
                "alerts_enabled": switches[r.region_key].alerts_enabled
                if r.region_key in switches
                else True,
            }
            for r in regions
        ],
        "switches": [
            {
                "region_key": s.region_key,
                "alerts_enabled": s.alerts_enabled,
                "reason": s.reason,
                "updated_by": s.updated_by,
                "updated_at": _iso(s.updated_at),
            }
            for s in switches.values()
        ],
        "dead_deliveries": [
            {
                "id": d.id,
                "alert_id": d.alert_id,
                "target": d.target,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "updated_at": _iso(d.updated_at),
            }
            for d in dead
        ],
        "errors": errors[:50],
    }


def known_statuses() -> tuple[str, ...]:
    return EVENT_STATUSES
