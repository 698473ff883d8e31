"""Mutable per-earthquake state kept by the streaming associator (internal to the domain)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import FloatArray, MagnitudeEstimate, Phase, Trigger


@dataclass(slots=True)
class TriggerRecord:
    """A trigger as the associator sees it: its H3 cell and when the server had it."""

    trigger: Trigger
    cell: str
    available_s: float
    assigned: bool = False

    @property
    def time_s(self) -> float:
        return self.trigger.time_s


@dataclass(slots=True)
class Member:
    record: TriggerRecord
    phase: Phase
    residual_s: float


def event_key_for(first_trigger_id: str) -> str:
    """Deterministic key from the earliest trigger of the declaration (rebuilds agree).

    >>> event_key_for("abc")
    'eq-a9993e364706816a'
    """
    return "eq-" + hashlib.sha1(first_trigger_id.encode()).hexdigest()[:16]


@dataclass(slots=True)
class EventState:
    key: str
    origin_time_s: float
    lat_deg: float
    lon_deg: float
    depth_km: float
    detected_at_s: float
    detection_log10_p: float
    horizontal_uncertainty_km: float = 5.0
    depth_uncertainty_km: float = float("nan")
    origin_time_uncertainty_s: float = 1.0
    depth_fixed: bool = True
    members: list[Member] = field(default_factory=list)
    devices: set[str] = field(default_factory=set)
    last_member_s: float = 0.0
    n_at_relocation: int = 0
    magnitude: MagnitudeEstimate | None = None
    reach_km: float = 150.0  # farthest distance a phone may trigger at for this event
    changed: bool = True
    merged_into: str | None = None
    created_seq: int = 0

    def add(self, record: TriggerRecord, phase: Phase, residual_s: float) -> None:
        record.assigned = True
        self.members.append(Member(record, phase, residual_s))
        self.devices.add(record.trigger.device_id)
        self.last_member_s = max(self.last_member_s, record.time_s)
        self.changed = True

    def member_arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(lat, lon, time, pga) of the members; PGA NaN when unknown."""
        trig = [m.record.trigger for m in self.members]
        lat = np.fromiter((t.lat_deg for t in trig), float, len(trig))
        lon = np.fromiter((t.lon_deg for t in trig), float, len(trig))
        tim = np.fromiter((t.time_s for t in trig), float, len(trig))
        pga = np.fromiter(
            (np.nan if t.pga_ms2 is None else t.pga_ms2 for t in trig), float, len(trig)
        )
        return lat, lon, tim, pga

    def distances_km(self, lat: FloatArray, lon: FloatArray) -> FloatArray:
        return haversine_km(self.lat_deg, self.lon_deg, lat, lon)
