"""Streaming association: triggers in time order -> declared, growing, merging earthquakes.

Each trigger is handled once, in time order, against the data's own clock (its time):

1. **Known events first.** It joins the event whose predicted P or S arrival
   t0 + T(d, z) it fits best, within tolerance_s + tolerance_per_km_s * sigma_h, if the phone is
   within the event's reach (GMPE distance at which a phone still triggers with probability
   1e-3 for the magnitude estimate + 1). A phone already in the event counts once: its later
   triggers are dropped as duplicates.
2. **Otherwise it waits in the pool** (per H3 cell) and the detection statistic of its cell
   neighbourhood is evaluated (``detection``): k distinct triggering phones in the last W
   seconds among n active phones, against a background rate that is the larger of the
   hour-of-day rate and the local rate seen in the preceding minute (so storms and other
   long bursts raise their own bar).
3. **Wave consistency** (``declaration``). A significant neighbourhood is declared an
   earthquake only if one hypocentre explains >= min_triggers of its triggers (P or S, within
   tolerance) and the look-alike tests pass: most triggers of the span fit (storms), several
   distinct sites over >= min_aperture_km (one building), times grow with distance (bursts,
   trains), and the fitted count is significant against the noise rate seen where the wave
   could not be (storm onsets, gusts).
4. **Growth, split, merge.** Events are relocated when their trigger count has grown by
   `relocate_growth`; triggers that no longer fit (> 3 tolerances) go back to the pool where
   they may form another event; two events closer than merge_distance_km and merge_time_s
   become one (the older key survives). Events without new triggers for event_expiry_s retire.

Every decision depends only on the triggers seen so far, in time order, so feeding a stream in
one batch or in many small batches gives the same events (`detector.detect_events`).
"""

from __future__ import annotations

import math
from collections import Counter, deque

import numpy as np

from crowdquake.domain import detection as stat
from crowdquake.domain.declaration import Declaration
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState, Member, TriggerRecord
from crowdquake.domain.geodesy import LocalProjection, haversine_km, haversine_scalar_km
from crowdquake.domain.location import SilentCells, locate
from crowdquake.domain.magnitude import (
    LOWER_BOUND,
    P_THRESHOLD,
    TRUNCATED,
    estimate_magnitude,
    log10_prob_trigger,
    max_trigger_distance_km,
)
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import HomogeneousModel, TravelTimeModel
from crowdquake.domain.types import MagnitudeEstimate, Phase

_DEFAULT_MAGNITUDE = 4.5


class Associator(Declaration):
    """Incremental state: the pool of unassociated triggers and the live events."""

    def __init__(
        self,
        params: DetectionParams,
        background: stat.BackgroundRates,
        model: TravelTimeModel,
        devices: DeviceIndex,
    ) -> None:
        self.p = params
        self.background = background
        self.model = model
        self.devices = devices
        self._homogeneous = model if isinstance(model, HomogeneousModel) else None
        self.pool: dict[str, deque[TriggerRecord]] = {}
        self.pool_order: deque[TriggerRecord] = deque()
        # every recent trigger per cell, associated or not: the context noise-rate evidence
        self.recent: dict[str, deque[TriggerRecord]] = {}
        self.recent_order: deque[TriggerRecord] = deque()
        # triggers per device in that recent span: an impossible rate withdraws its trust
        self.device_recent: Counter[str] = Counter()
        self.events: dict[str, EventState] = {}
        self.retired: list[EventState] = []
        self.seen: set[str] = set()
        self.clock_s = -math.inf
        self._seq = 0
        self.last_context: tuple[int, float, float, int] = (0, 0.0, 0.0, 0)
        self._last_check: dict[str, tuple[float, int]] = {}
        n_cells_region = 7 ** max(params.h3_resolution - params.region_h3_resolution, 0)
        self.log10_alpha = stat.log10_threshold(
            params.target_false_events_per_region_year, n_cells_region, params.window_s
        )
        self.stats = {"examined": 0, "checks": 0, "relocations": 0}
        self._reach_table = {
            round(m * 10): max_trigger_distance_km(m, params) for m in np.arange(1.0, 10.05, 0.1)
        }

    # --- entry point ----------------------------------------------------------------------
    def process(self, rec: TriggerRecord) -> None:
        tid = rec.trigger.trigger_id
        if tid in self.seen:
            return  # idempotent: a redelivered trigger changes nothing
        self.seen.add(tid)
        t = rec.time_s
        self.clock_s = max(self.clock_s, t)
        self.expire(self.clock_s)
        self._remember(rec)
        # a phone that triggers is alive: count it even without a fresh heartbeat
        self.devices.add_device(rec.trigger.device_id, rec.device_cell or rec.cell)
        best = self._best_event(rec)
        if best is not None:
            ev, phase, res = best
            if ev is not None:
                ev.add(rec, phase, res)
                self._maybe_relocate(ev, self.clock_s)
            return  # joined, or a duplicate phone of an event
        self._pool_add(rec)
        self._detect(rec)

    # --- association to live events -------------------------------------------------------
    def _tolerance(self, ev: EventState) -> float:
        unc = ev.horizontal_uncertainty_km if math.isfinite(ev.horizontal_uncertainty_km) else 10.0
        return self.p.tolerance_s + self.p.tolerance_per_km_s * min(unc, 50.0)

    def _fit(self, ev: EventState, rec: TriggerRecord) -> tuple[Phase, float] | None:
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
        if abs(res) > self._tolerance(ev) + self.p.tolerance_travel_fraction * max(travel_s, 0.0):
            return None
        return phase, res

    def _best_event(self, rec: TriggerRecord) -> tuple[EventState | None, Phase, float] | None:
        best: tuple[EventState | None, Phase, float] | None = None
        best_score = math.inf
        for ev in self.events.values():
            fit = self._fit(ev, rec)
            if fit is None:
                continue
            if rec.trigger.device_id in ev.devices:
                # same phone again (e.g. P then S): counted once, never seeds a new event
                return (None, fit[0], fit[1])
            score = abs(fit[1]) / self._tolerance(ev)
            if score < best_score:
                best_score = score
                best = (ev, fit[0], fit[1])
        return best

    # --- pool -----------------------------------------------------------------------------
    def _remember(self, rec: TriggerRecord) -> None:
        self.recent.setdefault(rec.cell, deque()).append(rec)
        self.recent_order.append(rec)
        self.device_recent[rec.trigger.device_id] += 1
        horizon = self.clock_s - self.p.local_rate_lookback_s - self.p.window_s
        while self.recent_order and self.recent_order[0].time_s < horizon:
            old = self.recent_order.popleft()
            dev = old.trigger.device_id
            self.device_recent[dev] -= 1
            if self.device_recent[dev] <= 0:
                del self.device_recent[dev]
            q = self.recent.get(old.cell)
            while q and q[0].time_s < horizon:
                q.popleft()
            if q is not None and not q:
                del self.recent[old.cell]

    def _pool_add(self, rec: TriggerRecord) -> None:
        self.pool.setdefault(rec.cell, deque()).append(rec)
        self.pool_order.append(rec)
        horizon = self.clock_s - self.p.pool_retention_s
        while self.pool_order and self.pool_order[0].time_s < horizon:
            old = self.pool_order.popleft()
            q = self.pool.get(old.cell)
            while q and q[0].time_s < horizon:
                q.popleft()
            if q is not None and not q:
                del self.pool[old.cell]

    def _window_records(self, cells: list[str], t_from: float, t_to: float) -> list[TriggerRecord]:
        out: list[TriggerRecord] = []
        for c in cells:
            q = self.pool.get(c)
            if not q:
                continue
            for r in reversed(q):  # newest first: stop at the window start
                self.stats["examined"] += 1
                if r.time_s < t_from:
                    break
                if r.time_s <= t_to and not r.assigned:
                    out.append(r)
        return out

    @staticmethod
    def _first_per_device(records: list[TriggerRecord]) -> list[TriggerRecord]:
        seen: dict[str, TriggerRecord] = {}
        for r in sorted(records, key=lambda r: (r.time_s, r.trigger.trigger_id)):
            seen.setdefault(r.trigger.device_id, r)
        return list(seen.values())

    def _sweep_pool(self, ev: EventState) -> None:
        """Give the new event the pooled triggers (anywhere) that fit it."""
        for r in sorted(self.pool_order, key=lambda r: (r.time_s, r.trigger.trigger_id)):
            if r.assigned or r.time_s < ev.origin_time_s:
                continue
            fit = self._fit(ev, r)
            if fit is not None and r.trigger.device_id not in ev.devices:
                ev.add(r, fit[0], fit[1])

    # --- relocation, magnitude, merge -----------------------------------------------------
    def _maybe_relocate(self, ev: EventState, now_s: float) -> None:
        n = len(ev.members)
        if n < max(ev.n_at_relocation * self.p.relocate_growth, ev.n_at_relocation + 1):
            return
        self.relocate(ev, now_s)

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

    def silent_cells(
        self, ev: EventState, radius_km: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cell indices, distance km, silent phones) of populated cells near the event."""
        idx = self.devices.cells_within(ev.lat_deg, ev.lon_deg, radius_km)
        if idx.size == 0:
            return idx, np.zeros(0), np.zeros(0)
        cells = self.devices.cells
        trig_counts = np.array([ev.cell_counts.get(cells[i], 0) for i in idx], dtype=float)
        silent = np.maximum(self.devices.counts[idx] - trig_counts, 0.0)
        dist = haversine_km(
            ev.lat_deg, ev.lon_deg, self.devices.cell_lat[idx], self.devices.cell_lon[idx]
        )
        return idx, np.asarray(dist), silent

    def trusted_silent_cells(
        self, ev: EventState, radius_km: float, member_weight: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like ``silent_cells`` with trust-weighted phones: (cells, distance km, weight)."""
        idx = self.devices.cells_within(ev.lat_deg, ev.lon_deg, radius_km)
        if idx.size == 0:
            return idx, np.zeros(0), np.zeros(0)
        cells = self.devices.cells
        trig = np.array([member_weight.get(cells[i], 0.0) for i in idx], dtype=float)
        silent = np.maximum(self.devices.trusted_counts[idx] - trig, 0.0)
        dist = haversine_km(
            ev.lat_deg, ev.lon_deg, self.devices.cell_lat[idx], self.devices.cell_lon[idx]
        )
        return idx, np.asarray(dist), silent

    def relocate(self, ev: EventState, now_s: float) -> None:
        p = self.p
        if len(ev.members) < 3:
            return  # (x, y, t0) needs three times; keep the last solution
        self.stats["relocations"] += 1
        sub = self._subsample(ev)
        proj = LocalProjection(ev.lat_deg, ev.lon_deg)
        all_lat, all_lon, all_tim, _ = ev.member_arrays()
        lat, lon, tim = all_lat[sub], all_lon[sub], all_tim[sub]
        x, y = proj.forward(lat, lon)
        silent = None
        if p.negative_evidence_weight > 0.0:
            idx, dist, n_sil = self.silent_cells(ev, p.negative_evidence_radius_km)
            if idx.size:
                mag = ev.magnitude.magnitude if ev.magnitude else _DEFAULT_MAGNITUDE
                sx, sy = proj.forward(self.devices.cell_lat[idx], self.devices.cell_lon[idx])
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
        ev.horizontal_uncertainty_km = min(sol.horizontal_uncertainty_km, 50.0)
        ev.depth_uncertainty_km = sol.sigma_depth_km
        ev.origin_time_uncertainty_s = sol.sigma_origin_time_s
        ev.depth_fixed = sol.depth_fixed
        ev.n_at_relocation = len(ev.members)
        ev.changed = True
        self._refresh_members(ev)
        self._update_reach(ev, now_s)
        self._merge_into_older(ev, now_s)

    def _refresh_members(self, ev: EventState) -> None:
        """Recompute phases/residuals; release clear misfits back to the pool (split rule)."""
        lat, lon, tim, _ = ev.member_arrays()
        d = ev.distances_km(lat, lon)
        rp = tim - ev.origin_time_s - self.model.travel_time_s(d, ev.depth_km, "P")
        rs = tim - ev.origin_time_s - self.model.travel_time_s(d, ev.depth_km, "S")
        use_p = np.abs(rp) <= np.abs(rs)
        res = np.where(use_p, rp, rs)
        release = np.abs(res) > 3.0 * self._tolerance(ev)
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

    def magnitude(
        self,
        ev: EventState,
        now_s: float,
        mask: np.ndarray | None = None,
        trusted_cell_weight: dict[str, float] | None = None,
    ) -> MagnitudeEstimate | None:
        """Magnitude from members and the phones the wave passed in silence by ``now_s``.

        Inside the S radius a silent phone's S peak stayed below its threshold; between the S
        and the P radius (``p_wave_silence``) its P peak did, and the P triggers there are
        then counted without conditioning. Triggers beyond the counted radius are conditioned
        on having triggered.

        ``mask`` selects the members used and ``trusted_cell_weight`` (trusted weight of those
        members per device cell) switches the silent phones to trusted ones: the magnitude
        the trusted evidence alone supports (``evidence``).
        """
        if not ev.members:
            return None
        p = self.p
        lat, lon, tim, pga = ev.member_arrays()
        is_p = np.fromiter((a.phase == "P" for a in ev.associations), bool, lat.size)
        if mask is not None:
            if not mask.any():
                return None
            lat, lon, tim, pga, is_p = lat[mask], lon[mask], tim[mask], pga[mask], is_p[mask]
        d = ev.distances_km(lat, lon)
        at_s = now_s - p.silent_margin_s
        s_radius = min(self.model_radius_km(ev, at_s, "S"), ev.reach_km)
        p_radius = (
            min(self.model_radius_km(ev, at_s, "P"), ev.reach_km) if p.p_wave_silence else s_radius
        )
        if trusted_cell_weight is None:
            _, sdist, n_sil = self.silent_cells(ev, p_radius)
        else:
            _, sdist, n_sil = self.trusted_silent_cells(ev, p_radius, trusted_cell_weight)
        hour = stat.local_hour(now_s, ev.lon_deg)
        p_false = stat.trigger_probability(
            self.background.rate_per_device_hour(hour), 2.0 * self._tolerance(ev)
        )
        ts = ev.origin_time_s + self.model.travel_time_s(d, ev.depth_km, "S")
        in_annulus = (d > s_radius) & (d <= p_radius)
        beyond = d > p_radius
        flags = np.where(in_annulus, np.where(is_p, P_THRESHOLD, TRUNCATED), 0)
        # beyond: a P trigger whose S wave has not arrived yet is conditioned on its P peak
        flags = np.where(
            beyond, np.where(is_p & (ts > now_s), TRUNCATED | P_THRESHOLD, TRUNCATED), flags
        )
        # a P trigger whose S wave came after the phone's report window reported a P peak:
        # only a lower bound of the PGA (with a margin: the S-P time of the real crust is
        # not known to a second)
        late_s = tim + p.pga_report_window_s - p.pga_report_margin_s
        flags = flags | np.where(is_p & (ts > late_s), LOWER_BOUND, 0)
        est = estimate_magnitude(
            d,
            pga,
            sdist,
            n_sil,
            params=p,
            false_trigger_prob=p_false,
            flags=flags.astype(np.int64),
            silent_p_only=sdist > s_radius,
        )
        return MagnitudeEstimate(
            est.magnitude,
            round(math.hypot(est.uncertainty, 0.15), 3),
            est.lower_bound,
            est.upper_bound,
        )

    def model_radius_km(self, ev: EventState, at_s: float, phase: Phase) -> float:
        """Epicentral radius the P or S wave has surely covered at ``at_s``: homogeneous
        speeds, slowed by the velocity-model error allowance (tolerance_travel_fraction)."""
        dt = (at_s - ev.origin_time_s) / (1.0 + self.p.tolerance_travel_fraction)
        slowness_s_km = float(self.model.travel_time_s(100.0, 0.0, phase)) / 100.0
        r = dt / max(slowness_s_km, 1e-6)
        return float(math.sqrt(max(r * r - ev.depth_km**2, 0.0)))

    def _update_reach(self, ev: EventState, now_s: float) -> None:
        ev.magnitude = self.magnitude(ev, now_s)
        m = ev.magnitude.magnitude + 1.0 if ev.magnitude else _DEFAULT_MAGNITUDE + 1.0
        key = round(min(max(m, 1.0), 10.0) * 10)
        ev.reach_km = max(self._reach_table[key], 30.0)

    def _merge_into_older(self, ev: EventState, now_s: float) -> None:
        for other in sorted(self.events.values(), key=lambda e: e.created_seq):
            if other is ev:
                continue
            d = float(haversine_km(ev.lat_deg, ev.lon_deg, other.lat_deg, other.lon_deg))
            if (
                d > self.p.merge_distance_km
                or abs(ev.origin_time_s - other.origin_time_s) > self.p.merge_time_s
            ):
                continue
            keep, drop = (other, ev) if other.created_seq < ev.created_seq else (ev, other)
            for m in drop.members:
                if m.record.trigger.device_id not in keep.devices:
                    keep.add(m.record, m.phase, m.residual_s)
                else:
                    m.record.assigned = False
            drop.members = []
            drop.merged_into = keep.key
            drop.changed = True
            del self.events[drop.key]
            self.retired.append(drop)
            self.relocate(keep, now_s)
            return

    def expire(self, now_s: float) -> None:
        for key in [
            k
            for k, e in self.events.items()
            if now_s - e.last_member_s > self.p.event_expiry_s or not e.members
        ]:
            self.retired.append(self.events.pop(key))
