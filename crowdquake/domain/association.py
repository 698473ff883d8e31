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
3. **Wave consistency.** A significant neighbourhood is declared an earthquake only if a grid
   search + robust location explains >= min_triggers of its triggers with one hypocentre
   (P or S, within tolerance), they are >= min_consistent_fraction of the window's triggers,
   and they are spread over >= min_aperture_km (one shaking building is not an earthquake;
   a train or a storm has no seismic-speed moveout and fails the fit or the fraction).
4. **Growth, split, merge.** Events are relocated when their trigger count has grown by
   `relocate_growth`; triggers that no longer fit (> 3 tolerances) go back to the pool where
   they may form another event; two events closer than merge_distance_km and merge_time_s
   become one (the older key survives). Events without new triggers for event_expiry_s retire.

Every decision depends only on the triggers seen so far, in time order, so feeding a stream in
one batch or in many small batches gives the same events (`detector.detect_events`).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from scipy.stats import binom
from scipy.stats import gamma as gamma_dist

from crowdquake.domain import detection as stat
from crowdquake.domain.consistency import distinct_sites, no_moveout, span_fraction
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState, Member, TriggerRecord, event_key_for
from crowdquake.domain.geodesy import LocalProjection, haversine_km, haversine_scalar_km
from crowdquake.domain.location import SilentCells, grid_search, locate
from crowdquake.domain.magnitude import (
    estimate_magnitude,
    log10_prob_trigger,
    max_trigger_distance_km,
)
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import HomogeneousModel, TravelTimeModel
from crowdquake.domain.types import MagnitudeEstimate, Phase

_DEFAULT_MAGNITUDE = 4.5


class Associator:
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
        if abs(res) > self._tolerance(ev):
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
        horizon = self.clock_s - self.p.local_rate_lookback_s - self.p.window_s
        while self.recent_order and self.recent_order[0].time_s < horizon:
            old = self.recent_order.popleft()
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

    # --- detection ------------------------------------------------------------------------
    def _detect(self, rec: TriggerRecord) -> None:
        p = self.p
        t = rec.time_s
        cells, n_active = self.devices.neighbourhood(rec.cell, p.neighbourhood_k_rings)
        window = self._first_per_device(self._window_records(cells, t - p.window_s, t))
        k = len(window)
        if k < p.min_triggers:
            return
        n = max(n_active, k)
        before = self._window_records(
            cells, t - p.window_s - p.local_rate_lookback_s, t - p.window_s
        )
        k_prev = len({r.trigger.device_id for r in before if r.time_s < t - p.window_s})
        hour = stat.local_hour(t, rec.trigger.lon_deg)
        lam_bg = self.background.rate_per_device_hour(hour)
        # local Gamma posterior with a weak (5 device-hour) prior at the hour-of-day rate
        exposure_h = n * p.local_rate_lookback_s / 3600.0
        lam = max(lam_bg, (lam_bg * 5.0 + k_prev) / (5.0 + exposure_h))
        prob = stat.trigger_probability(lam, p.window_s)
        log10_p = stat.log10_tail_probability(k, n, prob)
        if log10_p > self.log10_alpha:
            return
        last = self._last_check.get(rec.cell)
        if last is not None and k < 1.25 * last[1] and t < last[0] + 1.0:
            return  # nothing much new since the last failed check of this neighbourhood
        self.stats["checks"] += 1
        outcome = self._try_declare(window, log10_p, t)
        if outcome != "declared":
            # the whole neighbourhood shares the verdict; a noisy one is left alone longer
            hold_s = p.noise_hold_s if outcome == "noise" else 0.0
            for c in cells:
                self._last_check[c] = (t + hold_s, k)

    def _try_declare(self, window: list[TriggerRecord], log10_p: float, now_s: float) -> str:
        """Declare an event from a significant window if it is wave-consistent.

        Returns "declared", "noise" (explained by a raised noise rate) or "shape" (no
        consistent source, one site, no moveout).
        """
        p = self.p
        cand = window[: p.max_candidate_triggers]
        lat = np.array([r.trigger.lat_deg for r in cand])
        lon = np.array([r.trigger.lon_deg for r in cand])
        tim = np.array([r.time_s for r in cand])
        proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
        x, y = proj.forward(lat, lon)
        half = p.grid_half_width_km + 0.5 * float(np.ptp(x) + np.ptp(y))
        g = grid_search(
            x,
            y,
            tim,
            self.model,
            depth_km=p.default_depth_km,
            tolerance_s=p.declare_tolerance_s,
            center_km=(0.0, 0.0),
            half_width_km=half,
            n_side=p.grid_nodes_per_side,
        )
        if g.n_consistent < p.min_triggers:
            return "shape"
        ok = g.consistent
        sol = locate(
            x[ok],
            y[ok],
            tim[ok],
            self.model,
            depth_km=p.default_depth_km,
            start=(g.x_km, g.y_km, g.origin_time_s),
            pick_sigma_s=p.soft_l1_scale_s,
            free_depth=False,
            phases=tuple(ph for ph, o in zip(g.phases, ok, strict=True) if o),
        )
        # re-test every window trigger against the refined solution
        d = np.hypot(x - sol.x_km, y - sol.y_km)
        rp = tim - sol.origin_time_s - self.model.travel_time_s(d, sol.depth_km, "P")
        rs = tim - sol.origin_time_s - self.model.travel_time_s(d, sol.depth_km, "S")
        use_p = np.abs(rp) <= np.abs(rs)
        res = np.where(use_p, rp, rs)
        fit = np.abs(res) <= p.declare_tolerance_s
        n_fit = int(fit.sum())
        xf, yf = x[fit], y[fit]
        d_fit = np.hypot(xf - sol.x_km, yf - sol.y_km)
        # a source far outside its triggers has many ways to fit random times: ask for more
        distant = n_fit > 0 and float(d_fit.min()) > p.max_source_offset_km
        need_n = p.min_triggers * (2 if distant else 1)
        need_frac = (
            p.min_consistent_fraction if not distant else 0.5 + 0.5 * p.min_consistent_fraction
        )
        if n_fit < need_n:
            return "shape"
        all_times = np.array([r.time_s for r in window])
        if span_fraction(tim[fit], all_times, p.declare_tolerance_s) < need_frac:
            return "noise"  # storm-like: most triggers of the same span do not fit any source
        aperture = 2.0 * float(np.max(np.hypot(xf - xf.mean(), yf - yf.mean())))
        if aperture < p.min_aperture_km or distinct_sites(lat[fit], lon[fit]) < p.min_triggers:
            return "shape"  # one building / one spot
        t_pred = tim[fit] - sol.origin_time_s - res[fit]
        if no_moveout(tim[fit], t_pred):
            return "shape"  # simultaneous burst or slow mover: no seismic moveout
        if sol.origin_time_s > float(tim[fit].min()) + p.declare_tolerance_s:
            return "shape"  # a source that acts after its first "arrival" is not physical
        lat0, lon0 = proj.inverse(sol.x_km, sol.y_km)
        log10_p_fit = self._fit_significance(
            float(lat0), float(lon0), sol.origin_time_s, sol.depth_km, d_fit, now_s
        )
        if log10_p_fit > p.declare_log10_alpha:
            return "noise"  # the fitted triggers are explained by the noise rate around them
        members = [r for r, f in zip(cand, fit, strict=True) if f]
        first = min(members, key=lambda r: (r.time_s, r.trigger.trigger_id))
        self._seq += 1
        ev = EventState(
            key=event_key_for(first.trigger.trigger_id),
            origin_time_s=sol.origin_time_s,
            lat_deg=float(lat0),
            lon_deg=float(lon0),
            depth_km=sol.depth_km,
            detected_at_s=max(r.available_s for r in members),
            detection_log10_p=log10_p,
            horizontal_uncertainty_km=min(sol.horizontal_uncertainty_km, 50.0),
            origin_time_uncertainty_s=sol.sigma_origin_time_s,
            created_seq=self._seq,
        )
        for r, f, rr, ph_p in zip(cand, fit, res, use_p, strict=True):
            if f and r.trigger.device_id not in ev.devices:
                ev.add(r, "P" if ph_p else "S", float(rr))
        ev.n_at_relocation = len(ev.members)
        self.events[ev.key] = ev
        self._update_reach(ev, now_s)
        self._sweep_pool(ev)
        self._maybe_relocate(ev, now_s)
        return "declared"

    def _fit_significance(
        self,
        lat_deg: float,
        lon_deg: float,
        t0_s: float,
        depth_km: float,
        fit_dist_km: np.ndarray,
        now_s: float,
    ) -> float:
        """log10 P(>= n_fit phones in the P/S bands | noise rate seen before the wave).

        Triggers within context_radius_km that came *before* the candidate's P wave could have
        reached them (from t0 - context_lookback_s), and triggers inside the fitted radius that
        fall in the quiet S-P gap between the P and S bands, cannot be this earthquake: their
        rate is the current noise rate (a storm, gusts, a wide-area burst raise it). The rate
        is the larger of the whole window and its post-origin part (an onset after t0 is not
        diluted by the quiet before), as an upper Gamma-posterior quantile. The fitted count
        is then tested against that rate over the phones inside the fitted radius.

        Silence inside: phones closer to the source than every fitted trigger were passed by
        the wave first and, by attenuation, should trigger at least as often as the fitted
        ring. If they are significantly quieter (binomial lower tail < 10^-3) the "source" is
        an artefact placed outside a patch of noise; 0.0 (no evidence) is returned.
        """
        p = self.p
        dev = self.devices
        n_fit = int(fit_dist_km.size)
        d_max = float(fit_dist_km.max())
        idx = dev.cells_within(lat_deg, lon_deg, max(p.context_radius_km, d_max + 1.0))
        if idx.size == 0:
            return 0.0
        dist = haversine_km(lat_deg, lon_deg, dev.cell_lat[idx], dev.cell_lon[idx])
        counts = dev.counts[idx]
        tol = p.declare_tolerance_s
        t_from = t0_s - p.context_lookback_s
        t_recent = t0_s  # the post-origin part alone: an onset after t0 is not diluted
        tp = t0_s + self.model.travel_time_s(dist, depth_km, "P")
        ts = t0_s + self.model.travel_time_s(dist, depth_km, "S")
        t_until = np.minimum(tp - tol, now_s)
        # the S-P gap: after the P band, before the S band; an earthquake leaves it quiet
        gap_lo = tp + tol
        gap_hi = np.where(dist <= d_max + 1.0, np.minimum(ts - tol, now_s), -np.inf)
        d_min = float(fit_dist_km.min())
        inner = dist < d_min - 1.0
        k_all = k_recent = k_inner = 0
        for i, until, g_lo, g_hi, is_in in zip(
            idx.tolist(),
            t_until.tolist(),
            gap_lo.tolist(),
            gap_hi.tolist(),
            inner.tolist(),
            strict=True,
        ):
            q = self.recent.get(dev.cells[i])
            if not q:
                continue
            for r in reversed(q):
                self.stats["examined"] += 1
                if r.time_s < t_from:
                    break
                if r.time_s < until or g_lo < r.time_s < g_hi:
                    k_all += 1
                    k_recent += r.time_s >= t_recent
                if is_in and r.time_s >= t0_s:
                    k_inner += 1
        hour = stat.local_hour(t0_s, lon_deg)
        lam_bg = self.background.rate_per_device_hour(hour)
        prior_h = p.context_prior_device_hours

        def rate_upper(k: int, exposure_h: float) -> float:
            # an upper quantile: the fitted count was maximised over sources, so the noise
            # rate it is tested against must not be underestimated
            a = lam_bg * prior_h + k
            return float(gamma_dist.ppf(p.context_rate_quantile, a) / (prior_h + exposure_h))

        gap_s = np.maximum(gap_hi - gap_lo, 0.0)
        gap_recent_s = np.maximum(gap_hi - np.maximum(gap_lo, t_recent), 0.0)
        exp_all = float(np.sum(counts * (np.maximum(t_until - t_from, 0.0) + gap_s))) / 3600.0
        exp_recent = (
            float(np.sum(counts * (np.maximum(t_until - t_recent, 0.0) + gap_recent_s))) / 3600.0
        )
        lam = max(lam_bg, rate_upper(k_all, exp_all), rate_upper(k_recent, exp_recent))
        near = dist <= float(fit_dist_km.max()) + 1.0
        n_band = max(int(counts[near].sum()), n_fit)
        n_inner = int(counts[inner].sum())
        self.last_context = (k_all, exp_all, lam, n_band)
        if n_inner > 0:
            ring_fraction = min(n_fit / max(n_band - n_inner, 1), 1.0)
            log10_silence = float(binom.logcdf(k_inner, n_inner, ring_fraction)) / math.log(10)
            if log10_silence < -3.0:
                return 0.0
        band_s = 4.0 * p.declare_tolerance_s  # P and S bands of +- tolerance
        return stat.log10_tail_probability(n_fit, n_band, stat.trigger_probability(lam, band_s))

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

    def relocate(self, ev: EventState, now_s: float) -> None:
        p = self.p
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
            depth_km=ev.depth_km if not p.free_depth else p.default_depth_km,
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
        if len(ev.members) < 2 * self.p.min_triggers:
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

    def magnitude(self, ev: EventState, now_s: float) -> MagnitudeEstimate | None:
        """Magnitude from members and the phones the S wave passed in silence by ``now_s``."""
        if not ev.members:
            return None
        p = self.p
        lat, lon, _, pga = ev.member_arrays()
        d = ev.distances_km(lat, lon)
        s_radius = self.model_s_radius_km(ev, now_s - p.silent_margin_s)
        radius = min(s_radius, ev.reach_km)
        _, sdist, n_sil = self.silent_cells(ev, radius)
        hour = stat.local_hour(now_s, ev.lon_deg)
        p_false = stat.trigger_probability(
            self.background.rate_per_device_hour(hour), 2.0 * self._tolerance(ev)
        )
        # triggers beyond the silent-counted radius are conditioned on having triggered;
        # P triggers whose S wave has not arrived yet on a P peak above threshold
        ts = ev.origin_time_s + self.model.travel_time_s(d, ev.depth_km, "S")
        is_p = np.fromiter((a.phase == "P" for a in ev.associations), bool, d.size)
        code = np.where(d > radius, np.where(is_p & (ts > now_s), 2, 1), 0).astype(np.int64)
        est = estimate_magnitude(
            d, pga, sdist, n_sil, params=p, false_trigger_prob=p_false, truncated=code
        )
        return MagnitudeEstimate(
            est.magnitude,
            round(math.hypot(est.uncertainty, 0.15), 3),
            est.lower_bound,
            est.upper_bound,
        )

    def model_s_radius_km(self, ev: EventState, at_s: float) -> float:
        """Epicentral radius the S wave has covered at ``at_s`` (homogeneous approximation)."""
        dt = at_s - ev.origin_time_s
        slowness_s_km = float(self.model.travel_time_s(100.0, 0.0, "S")) / 100.0
        vs = 1.0 / max(slowness_s_km, 1e-6)
        r = vs * dt
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
            k for k, e in self.events.items() if now_s - e.last_member_s > self.p.event_expiry_s
        ]:
            self.retired.append(self.events.pop(key))
