"""Declaring an earthquake: a significant neighbourhood that one wave-consistent source explains.

``Declarer`` is the associator's collaborator for triggers that joined no live event (see
``association`` for the overall flow, ``pool`` for the triggers it reads and ``consistency``
for the shape tests). ``detect`` returns a new ``EventState`` or ``None``; the decision is:

1. neighbourhood statistic (``detection``): k distinct phones in W among n active, against
   max(hour-of-day rate, local rate of the preceding minute);
2. grid search + robust location (``location``) explaining >= min_triggers within +-1 s;
3. shape tests: span fraction (storms), distinct sites and aperture (one building), moveout
   slope (simultaneous bursts, trains), origin before the first arrival, more evidence for a
   source far outside its triggers;
4. significance of the fitted count against the noise rate seen where this source's wave
   could not (yet) be (`_fit_significance`), and no significant silence inside.

A neighbourhood that failed is not re-examined until its count grew by a quarter or a second
passed (``noise_hold_s`` longer when the failure was a raised noise rate).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from scipy.stats import binom
from scipy.stats import gamma as gamma_dist

from crowdquake.domain import detection as stat
from crowdquake.domain.cells import REGION_RESOLUTION
from crowdquake.domain.consistency import (
    distinct_sites,
    no_moveout,
    site_leaders,
    span_fraction,
)
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState, TriggerRecord, event_key_for
from crowdquake.domain.geodesy import LocalProjection, haversine_km
from crowdquake.domain.location import grid_search, locate
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.pool import TriggerPool, first_per_device
from crowdquake.domain.traveltime import TravelTimeModel


class Declarer:
    """Turns significant, wave-consistent neighbourhoods of pooled triggers into new events."""

    def __init__(
        self,
        params: DetectionParams,
        background: stat.BackgroundRates,
        model: TravelTimeModel,
        devices: DeviceIndex,
        pool: TriggerPool,
        stats: dict[str, int],
    ) -> None:
        self.p = params
        self.background = background
        self.model = model
        self.devices = devices
        self.pool = pool
        self.stats = stats
        self.last_context: tuple[int, float, float, int] = (0, 0.0, 0.0, 0)
        self._last_check: dict[str, tuple[float, int]] = {}
        self._seq = 0
        n_cells_region = 7 ** max(params.h3_resolution - REGION_RESOLUTION, 0)
        self.log10_alpha = stat.log10_threshold(
            params.target_false_events_per_region_year, n_cells_region, params.window_s
        )

    # --- detection ------------------------------------------------------------------------
    def detect(self, rec: TriggerRecord) -> EventState | None:
        """A new event declared from the neighbourhood of pooled ``rec``, or ``None``."""
        p = self.p
        t = rec.time_s
        cells, n_active = self.devices.neighbourhood(rec.cell, p.neighbourhood_k_rings)
        records = self.pool.window(cells, t - p.window_s, t)
        k = len({r.trigger.device_id for r in records})  # phones, each counted once
        if k < p.min_triggers:
            return None
        last = self._last_check.get(rec.cell)
        if last is not None and k < 1.25 * last[1] and t < last[0] + 1.0:
            return None  # nothing much new since the last failed check of this neighbourhood
        n = max(n_active, k)
        before = self.pool.window(cells, t - p.window_s - p.local_rate_lookback_s, t - p.window_s)
        # the local rate counts triggers (a Poisson rate), each phone at most
        # local_rate_max_per_device times: counting phones instead saturates at one per phone
        # per lookback, far below the rate of a dense burst, which then looks significant
        per_device = Counter(r.trigger.device_id for r in before if r.time_s < t - p.window_s)
        k_prev = sum(min(c, p.local_rate_max_per_device) for c in per_device.values())
        hour = stat.local_hour(t, rec.trigger.lon_deg)
        lam_bg = self.background.rate_per_device_hour(hour)
        # local Gamma posterior with a weak (5 device-hour) prior at the hour-of-day rate
        exposure_h = n * p.local_rate_lookback_s / 3600.0
        lam = max(lam_bg, (lam_bg * 5.0 + k_prev) / (5.0 + exposure_h))
        prob = stat.trigger_probability(lam, p.window_s)
        if stat.log10_tail_lower_bound(k, n, prob) > self.log10_alpha:
            return None  # certainly not significant: skip the exact (slow) tail
        log10_p = stat.log10_tail_probability(k, n, prob)
        if log10_p > self.log10_alpha:
            return None
        self.stats["checks"] += 1
        # sorted (first trigger per phone, time order) only here: in a flood most triggers stop
        # at one of the cheap tests above (measured: the sort was ~30 % of a worker's time)
        outcome = self._try_declare(first_per_device(records), log10_p, t)
        if isinstance(outcome, EventState):
            return outcome
        # the whole neighbourhood shares the verdict; a noisy one is left alone longer
        hold_s = p.noise_hold_s if outcome == "noise" else 0.0
        for c in cells:
            self._last_check[c] = (t + hold_s, k)
        return None

    def _try_declare(
        self, window: list[TriggerRecord], log10_p: float, now_s: float
    ) -> EventState | str:
        """The event a significant window declares if it is wave-consistent.

        Otherwise "noise" (explained by a raised noise rate) or "shape" (no consistent
        source, one site, no moveout).
        """
        p = self.p
        cand = window[: p.max_candidate_triggers]
        lat = np.array([r.trigger.lat_deg for r in cand])
        lon = np.array([r.trigger.lon_deg for r in cand])
        tim = np.array([r.time_s for r in cand])
        proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
        x, y = proj.forward(lat, lon)
        half = p.grid_half_width_km + 0.5 * float(np.ptp(x) + np.ptp(y))
        ng = min(len(cand), p.max_grid_triggers)  # the grid's cost grows as n²: earliest only
        g = grid_search(
            x[:ng],
            y[:ng],
            tim[:ng],
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
            x[:ng][ok],
            y[:ng][ok],
            tim[:ng][ok],
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
        # many phones in one building are one observation: the evidence is counted in sites
        leaders = site_leaders(xf, yf, p.site_radius_km)
        if leaders.size < need_n:
            return "shape"
        t_pred = tim[fit] - sol.origin_time_s - res[fit]
        if no_moveout(tim[fit], t_pred):
            return "shape"  # simultaneous burst or slow mover: no seismic moveout
        if sol.origin_time_s > float(tim[fit].min()) + p.declare_tolerance_s:
            return "shape"  # a source that acts after its first "arrival" is not physical
        lat0, lon0 = proj.inverse(sol.x_km, sol.y_km)
        log10_p_fit = self._fit_significance(
            float(lat0), float(lon0), sol.origin_time_s, sol.depth_km, d_fit[leaders], now_s
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
        return ev

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
            for r in self.pool.recent_since(dev.cells[i], t_from):
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
