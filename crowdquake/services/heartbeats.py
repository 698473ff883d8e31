"""Heartbeats: the denominator of every detection statistic.

Only the coarsened position (the centre of an H3 cell) is stored: the exact position of a phone
at rest is personal data we do not need.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crowdquake.domain.cells import cell_center, cell_of, region_key
from crowdquake.domain.params import DetectionParams
from crowdquake.services.devices import update_reputation
from crowdquake.storage.models import Device, DeviceState


@dataclass(frozen=True, slots=True)
class HeartbeatInput:
    lat_deg: float
    lon_deg: float
    accuracy_m: float
    steady: bool
    charging: bool
    app_version: str
    model_version: str
    clock_offset_s: float


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    device_id: uuid.UUID
    cell: str
    lat_deg: float
    lon_deg: float
    last_heartbeat_at: datetime
    created: bool


def record_heartbeat(
    session: Session,
    device_id: uuid.UUID,
    heartbeat: HeartbeatInput,
    *,
    now: datetime,
    cell_resolution: int,
    trust_all: bool = False,
) -> HeartbeatResult:
    """Upsert the device's state from a heartbeat, storing the cell centre only; count the
    heartbeat day and recompute the device's trust (``services.devices.update_reputation``)."""
    cell = cell_of(heartbeat.lat_deg, heartbeat.lon_deg, cell_resolution)
    centre_lat, centre_lon = cell_center(cell)
    state = session.get(DeviceState, device_id)
    created = state is None
    if state is None:
        state = DeviceState(device_id=device_id)
        session.add(state)
    state.cell = cell
    state.region_key = region_key(centre_lat, centre_lon)
    state.lat_deg = centre_lat
    state.lon_deg = centre_lon
    state.accuracy_m = heartbeat.accuracy_m
    state.steady = heartbeat.steady
    state.charging = heartbeat.charging
    state.app_version = heartbeat.app_version
    state.model_version = heartbeat.model_version
    state.clock_offset_s = heartbeat.clock_offset_s
    state.last_heartbeat_at = now
    device = session.get(Device, device_id)
    if device is not None:
        update_reputation(device, now, DetectionParams(), trust_all=trust_all)
    session.flush()
    return HeartbeatResult(device_id, cell, centre_lat, centre_lon, now, created)
