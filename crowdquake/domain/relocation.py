"""Relocating a growing event and releasing the triggers that no longer fit it.

``Relocator.relocate`` re-solves (x, y, t0[, z]) from a deterministic subsample of the
members (``location.locate``, with the silent phones near the event as negative evidence
when ``negative_evidence_weight`` > 0), then recomputes every member's phase and residual:
members off by more than three tolerances go back to the pool (the split rule), unless so
many would leave that the relocation itself is suspect.
"""

from __future__ import annotations

import numpy as np

from crowdquake.domain.events import EventState, Member
from crowdquake.domain.geodesy import LocalProjection
from crowdquake.domain.location import SilentCells, locate
from crowdquake.domain.magnitude import log10_prob_trigger
from crowdquake.domain.matching import arrival_tolerance_s
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.sizing import DEFAULT_MAGNITUDE, EventSizer
from crowdquake.domain.traveltime import TravelTimeModel

_MAX_UNCERTAINTY_KM = 50.0


class Relocator:
    """New hypocentre and member residuals of an event."""

    def __init__(
        self,
        params: DetectionParams,
        model: TravelTimeModel,
        sizer: EventSizer,
        stats: dict[str, int],
    ) -> None:
        self.p = params
        self.model = model
        self.sizer = sizer
        self.stats = stats

    def relocate(self, ev: EventState, now_s: float) -> bool:
        """Relocate ``ev`` in place; ``False`` (unchanged) with fewer than three members."""
        p = self.p
        if len(ev.members) < 3:
            return False  # (x, y, t0) needs three times; keep the last solution
        self.stats["relocations"] += 1
        sub = self._subsample(ev)
        proj = LocalProjection(ev.lat_deg, ev.lon_deg)
        all_lat, all_lon, all_tim, _ = ev.member_arrays()
        lat, lon, tim = all_lat[sub], all_lon[sub], all_tim[sub]
        x, y = proj.forward(lat, lon)
        silent = None
        if p.negative_evidence_weight > 0.0:
            idx, dist, n_sil = self.sizer.silent_cells(ev, p.negative_evidence_radius_km)
            if idx.size:
                devices = self.sizer.devices
                mag = ev.magnitude.magnitude if ev.magnitude else DEFAULT_MAGNITUDE
                sx, sy = proj.forward(devices.cell_lat[idx], devices.cell_lon[idx])
                q = 10.0 ** log10_prob_trigger(mag, dist, p)
                silent = SilentCells(sx, sy, n_sil, q)
        sol = locate(
            x,
            y,
            tim,
            self.model,
            depth_km=ev.depth_km,  # fixed depth, or the start of a free-depth solve
            start=(0.0, 0.0, ev.origin_time_s),
            pick_sigma_s=p.soft_l1_scale_s,
            free_depth=p.free_depth,
            silent=silent,
            now_s=now_s,
            silent_weight=p.negative_evidence_weight,
        )
        lat0, lon0 = proj.inverse(sol.x_km, sol.y_km)
        ev.lat_deg, ev.lon_deg = float(lat0), float(lon0)
        ev.origin_time_s, ev.depth_km = sol.origin_time_s, sol.depth_km
        ev.horizontal_uncertainty_km = min(sol.horizontal_uncertainty_km, _MAX_UNCERTAINTY_KM)
        ev.depth_uncertainty_km = sol.sigma_depth_km
        ev.origin_time_uncertainty_s = sol.sigma_origin_time_s
        ev.depth_fixed = sol.depth_fixed
        ev.n_at_relocation = len(ev.members)
        ev.changed = True
        self._refresh_members(ev)
        return True

    def _subsample(self, ev: EventState) -> np.ndarray:
        """Member indices used by a relocation: the earliest half (near the source, most
        informative on the epicentre) plus an even spread of the rest; deterministic."""
        n = len(ev.members)
        cap = self.p.relocate_max_triggers
        if n <= cap:
            return np.arange(n)
        order = np.argsort(ev.member_arrays()[2], kind="stable")
        head = order[: cap // 2]
        rest = order[cap // 2 :]
        pick = (np.arange(cap - head.size) * (rest.size / (cap - head.size))).astype(int)
        return np.concatenate([head, rest[pick]])

    def _refresh_members(self, ev: EventState) -> None:
        """Recompute phases/residuals; release clear misfits back to the pool (split rule)."""
        lat, lon, tim, _ = ev.member_arrays()
        d = ev.distances_km(lat, lon)
        rp = tim - ev.origin_time_s - self.model.travel_time_s(d, ev.depth_km, "P")
        rs = tim - ev.origin_time_s - self.model.travel_time_s(d, ev.depth_km, "S")
        use_p = np.abs(rp) <= np.abs(rs)
        res = np.where(use_p, rp, rs)
        release = np.abs(res) > 3.0 * arrival_tolerance_s(ev, self.p)
        kept_n = int((~release).sum())
        if len(ev.members) < 2 * self.p.min_triggers or kept_n < max(
            self.p.min_triggers, len(ev.members) // 2
        ):
            # too few would stay: the relocation is suspect, not half of the triggers
            release[:] = False
        if not release.any():
            ev.refresh_associations(res, use_p)
            return
        kept = [
            Member(m.record, "P" if up else "S", float(r))
            for m, r, up, rel in zip(
                ev.members, res.tolist(), use_p.tolist(), release.tolist(), strict=True
            )
            if not rel
        ]
        ev.set_members(kept)
