"""Mutable per-earthquake state kept by the streaming associator (internal to the domain)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import (
    FloatArray,
    MagnitudeEstimate,
    Phase,
    Trigger,
    TriggerAssociation,
)


@dataclass(slots=True)
class TriggerRecord:
    """A trigger as the associator sees it: its H3 cell and when the server had it."""

    trigger: Trigger
    cell: str
    available_s: float
    device_cell: str = ""  # cell of the phone's heartbeat (its denominator cell)
    assigned: bool = False
    time_s: float = field(init=False)  # copy of trigger.time_s: read in every hot loop

    def __post_init__(self) -> None:
        self.time_s = self.trigger.time_s


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


class _Column:
    """Append-only float column with amortised O(1) appends and O(1) array views."""

    __slots__ = ("_data", "_n")

    def __init__(self, values: list[float] | None = None) -> None:
        vals = values or []
        self._data = np.empty(max(64, 2 * len(vals)), dtype=float)
        self._data[: len(vals)] = vals
        self._n = len(vals)

    def append(self, value: float) -> None:
        if self._n == self._data.size:
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self._n] = value
        self._n += 1

    def view(self) -> FloatArray:
        return self._data[: self._n]


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
    # column caches kept in step with ``members`` so an update never loops over members
    associations: list[TriggerAssociation] = field(default_factory=list)
    cell_counts: dict[str, int] = field(default_factory=dict)
    _lat: _Column = field(default_factory=_Column)
    _lon: _Column = field(default_factory=_Column)
    _time: _Column = field(default_factory=_Column)
    _pga: _Column = field(default_factory=_Column)

    def add(self, record: TriggerRecord, phase: Phase, residual_s: float) -> None:
        record.assigned = True
        self.members.append(Member(record, phase, residual_s))
        self.devices.add(record.trigger.device_id)
        self.last_member_s = max(self.last_member_s, record.time_s)
        self.changed = True
        tr = record.trigger
        self.associations.append(TriggerAssociation(tr.trigger_id, phase, round(residual_s, 4)))
        self.cell_counts[record.device_cell] = self.cell_counts.get(record.device_cell, 0) + 1
        self._lat.append(tr.lat_deg)
        self._lon.append(tr.lon_deg)
        self._time.append(tr.time_s)
        self._pga.append(np.nan if tr.pga_ms2 is None else tr.pga_ms2)

    def set_members(self, members: list[Member]) -> None:
        """Replace the members (after relocation or a merge) and rebuild the caches."""
        old = self.members
        for m in old:
            m.record.assigned = False
        trig = [m.record.trigger for m in members]
        for m in members:
            m.record.assigned = True
        self.members = list(members)
        self.devices = {t.device_id for t in trig}
        self.associations = [
            TriggerAssociation(t.trigger_id, m.phase, round(m.residual_s, 4))
            for t, m in zip(trig, members, strict=True)
        ]
        self.cell_counts = dict(Counter(m.record.device_cell for m in members))
        self._lat = _Column([t.lat_deg for t in trig])
        self._lon = _Column([t.lon_deg for t in trig])
        self._time = _Column([t.time_s for t in trig])
        self._pga = _Column([np.nan if t.pga_ms2 is None else t.pga_ms2 for t in trig])
        if members:
            self.last_member_s = max(self.last_member_s, float(self._time.view().max()))
        self.changed = True

    def refresh_associations(self, residual_s: FloatArray, is_p: np.ndarray) -> None:
        """New phases/residuals after a relocation (no member change).

        Only entries whose phase flipped or whose residual moved by more than 0.05 s are
        rebuilt: creating 10^4-10^5 frozen objects per relocation would dominate the cost.
        """
        old_res = np.fromiter(
            (a.residual_s for a in self.associations), float, len(self.associations)
        )
        old_p = np.fromiter(
            (a.phase == "P" for a in self.associations), bool, len(self.associations)
        )
        stale = np.nonzero((np.abs(old_res - residual_s) > 0.05) | (old_p != is_p))[0]
        res_r = np.round(residual_s[stale], 4).tolist()
        for j, i in enumerate(stale.tolist()):
            a = self.associations[i]
            self.associations[i] = TriggerAssociation(
                a.trigger_id, "P" if is_p[i] else "S", res_r[j]
            )
        self.changed = True

    def member_arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(lat, lon, time, pga) of the members as array views; PGA NaN when unknown."""
        return self._lat.view(), self._lon.view(), self._time.view(), self._pga.view()

    def distances_km(self, lat: FloatArray, lon: FloatArray) -> FloatArray:
        return haversine_km(self.lat_deg, self.lon_deg, lat, lon)
