"""Personal data of devices: retention, export and erasure.

What is personal: a device's registration, its last heartbeat (already coarsened to an H3 cell
centre), its triggers (time and the phone's own position) and the waveforms behind them. Events,
their revisions (location, magnitude, trigger counts), alerts and background rates are
aggregates over many phones and are kept.

- ``purge_expired``: triggers older than the retention (``CROWDQUAKE_TRIGGER_RETENTION_DAYS``)
  are deleted with their waveforms and their event links; run hourly by beat.
- ``export_device``: everything stored about one device, as JSON-ready data.
- ``erase_device``: deletes the device and everything that references it.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crowdquake.services.errors import NotFound
from crowdquake.storage.models import Device, DeviceState, Event, Trigger, Waveform

PURGE_BATCH = 5000


def purge_expired(session: Session, now: datetime, retention_days: int) -> int:
    """Delete the triggers (with waveforms and event links, by cascade) older than
    ``retention_days``; returns how many. 0 days keeps everything. The caller commits."""
    if retention_days <= 0:
        return 0
    cutoff = now - timedelta(days=retention_days)
    removed = 0
    while True:
        ids = list(
            session.scalars(
                select(Trigger.id).where(Trigger.trigger_time < cutoff).limit(PURGE_BATCH)
            )
        )
        if not ids:
            return removed
        # Event links go by ON DELETE CASCADE (foreign keys are on for both backends).
        session.execute(delete(Waveform).where(Waveform.trigger_id.in_(ids)))
        session.execute(delete(Trigger).where(Trigger.id.in_(ids)))
        removed += len(ids)
        session.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_device(session: Session, device_id: uuid.UUID) -> dict[str, Any]:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("no such device")
    state = session.get(DeviceState, device_id)
    triggers = session.execute(
        select(Trigger, Event.public_id)
        .outerjoin(Event, Event.id == Trigger.event_id)
        .where(Trigger.device_id == device_id)
        .order_by(Trigger.trigger_time)
    ).all()
    waveforms = session.scalars(
        select(Waveform)
        .join(Trigger, Trigger.id == Waveform.trigger_id)
        .where(Trigger.device_id == device_id)
    ).all()
    return {
        "device": {
            "device_id": str(device.id),
            "platform": device.platform,
            "app_version": device.app_version,
            "model_version": device.model_version,
            "registered_at": _iso(device.created_at),
            "status": device.status,
        },
        "last_heartbeat": None
        if state is None
        else {
            "cell": state.cell,
            "latitude": state.lat_deg,
            "longitude": state.lon_deg,
            "accuracy_m": state.accuracy_m,
            "steady": state.steady,
            "charging": state.charging,
            "app_version": state.app_version,
            "model_version": state.model_version,
            "clock_offset_s": state.clock_offset_s,
            "at": _iso(state.last_heartbeat_at),
        },
        "triggers": [
            {
                "id": str(t.id),
                "trigger_time": _iso(t.trigger_time),
                "received_at": _iso(t.received_at),
                "clock_offset_s": t.clock_offset_s,
                "latitude": t.lat_deg,
                "longitude": t.lon_deg,
                "accuracy_m": t.accuracy_m,
                "pga_ms2": t.pga_ms2,
                "score": t.score,
                "model_version": t.model_version,
                "phase_hint": t.phase_hint,
                "status": t.status,
                "event_id": public_id,
            }
            for t, public_id in triggers
        ],
        "waveforms": [
            {
                "trigger_id": str(w.trigger_id),
                "sample_rate_hz": w.sample_rate_hz,
                "start_time": _iso(w.start_time),
                "n_channels": w.n_channels,
                "n_samples": w.n_samples,
                "received_at": _iso(w.received_at),
                "data_base64": base64.b64encode(w.data).decode(),
            }
            for w in waveforms
        ],
    }


def erase_device(session: Session, device_id: uuid.UUID) -> None:
    """Delete the device, its heartbeat state, triggers and waveforms (the caller commits)."""
    trigger_ids = select(Trigger.id).where(Trigger.device_id == device_id)
    session.execute(delete(Waveform).where(Waveform.trigger_id.in_(trigger_ids)))
    session.execute(delete(Trigger).where(Trigger.device_id == device_id))
    session.execute(delete(DeviceState).where(DeviceState.device_id == device_id))
    session.execute(delete(Device).where(Device.id == device_id))
