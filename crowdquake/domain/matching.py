"""Matching a trigger to live events: which predicted P or S arrival it fits best.

A trigger fits an event when the phone is within the event's reach and its time is within
``arrival_tolerance_s`` (+ ``tolerance_travel_fraction`` of the travel time, for the error of
the velocity model) of the predicted P or S arrival t0 + T(d, z).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from crowdquake.domain.events import EventState, TriggerRecord
from crowdquake.domain.geodesy import haversine_scalar_km
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import HomogeneousModel, TravelTimeModel
from crowdquake.domain.types import Phase

# an event without a finite horizontal uncertainty is treated as this uncertain (km)
_UNKNOWN_UNCERTAINTY_KM = 10.0
_MAX_UNCERTAINTY_KM = 50.0


def arrival_tolerance_s(ev: EventState, params: DetectionParams) -> float:
    """Residual tolerance (s) of an event: grows with its horizontal uncertainty."""
    unc = (
        ev.horizontal_uncertainty_km
        if math.isfinite(ev.horizontal_uncertainty_km)
        else _UNKNOWN_UNCERTAINTY_KM
    )
    return params.tolerance_s + params.tolerance_per_km_s * min(unc, _MAX_UNCERTAINTY_KM)


class ArrivalMatcher:
    """Phase and residual of a trigger against an event's predicted arrivals."""

    def __init__(self, params: DetectionParams, model: TravelTimeModel) -> None:
        self.p = params
        self.model = model
        self._homogeneous = model if isinstance(model, HomogeneousModel) else None

    def fit(self, ev: EventState, rec: TriggerRecord) -> tuple[Phase, float] | None:
        """(phase, residual s) when ``rec`` fits ``ev`` within tolerance, else ``None``."""
        tr = rec.trigger
        d = haversine_scalar_km(ev.lat_deg, ev.lon_deg, tr.lat_deg, tr.lon_deg)
        if d > ev.reach_km:
            return None
        dt = tr.time_s - ev.origin_time_s
        if self._homogeneous is not None:  # scalar fast path: no numpy call per trigger
            r_km = math.hypot(d, ev.depth_km)
            rp = dt - r_km / self._homogeneous.vp_km_s
            rs = dt - r_km / self._homogeneous.vs_km_s
        else:
            rp = dt - float(self.model.travel_time_s(d, ev.depth_km, "P"))
            rs = dt - float(self.model.travel_time_s(d, ev.depth_km, "S"))
        phase: Phase = "P" if abs(rp) <= abs(rs) else "S"
        res = rp if phase == "P" else rs
        # the velocity model is wrong by some percent: allow that share of the travel time
        travel_s = dt - res
        tol = arrival_tolerance_s(ev, self.p)
        if abs(res) > tol + self.p.tolerance_travel_fraction * max(travel_s, 0.0):
            return None
        return phase, res

    def best_event(
        self, events: Iterable[EventState], rec: TriggerRecord
    ) -> tuple[EventState | None, Phase, float] | None:
        """The event ``rec`` fits best (smallest residual in tolerances).

        ``(None, phase, residual)`` when the phone is already a member of an event it fits
        (a later trigger of the same phone, e.g. its S after its P); ``None`` when it fits no
        event.
        """
        best: tuple[EventState | None, Phase, float] | None = None
        best_score = math.inf
        for ev in events:
            fit = self.fit(ev, rec)
            if fit is None:
                continue
            if rec.trigger.device_id in ev.devices:
                # same phone again (e.g. P then S): counted once, never seeds a new event
                return (None, fit[0], fit[1])
            score = abs(fit[1]) / arrival_tolerance_s(ev, self.p)
            if score < best_score:
                best_score = score
                best = (ev, fit[0], fit[1])
        return best
