"""Bayesian magnitude from phone PGA, triggered area and silent phones (grid posterior).

For each magnitude M on a grid, with mu(M, d) = ln of the BSSA14 median PGA (``groundmotion``)
at the Joyner-Boore distance estimated from the epicentral distance d, sigma the phone
log-normal scatter, threshold A_th (~0.01 g), efficiency e (share of would-be triggers that
arrive) and p_f the chance of a false trigger falling in the association window:

* triggered phone with PGA a:  L = e phi((ln a - mu) / sigma) / (sigma a) + p_f f_noise(a)
  (log-normal density; f_noise an exponential density of ln a above ln A_th, scale 0.5)
* triggered phone, PGA unknown:  L = e P(PGA > A_th) + p_f        (far triggers bound M below)
* silent phone (S wave passed):   L = 1 - e P(PGA > A_th) - p_f   (silence bounds M above)
  with P(PGA > A_th) = Phi((mu - ln A_th) / sigma);
* silent phone only the P wave has passed: L = 1 - e P(r PGA > A_th) - p_f, r the assumed P/S
  peak ratio (``p_to_s_amplitude_ratio``): earlier and weaker, but evidence.
* prior: Gutenberg-Richter, p(M) ∝ 10^(-b M) (Gutenberg & Richter 1944, BSSA 34(4)).

The likelihood treats each phone's scatter as independent, so its posterior width shrinks as
1/sqrt(n) and ignores what all phones of one event share: the event's between-event term
(BSSA14 tau, 0.35-0.40 ln, eq. 14) and the error of the GMPE's median for the region (the
between-model spread of published medians, ``gmpe_model_sigma_ln``). Both shift every
phone's ln PGA by one offset delta, which moves the magnitude by delta / (d mu / dM):
``shared_offset_sd_magnitude`` adds that in quadrature to the stated uncertainty (the point
estimate is unchanged). The sensitivity is measured, not assumed: the posterior is recomputed
with every median shifted by +-sigma, so where the median saturates (large M close to the
source) the stated uncertainty grows accordingly.

The triggered area keeps growing with M in this likelihood because BSSA14's distance term grows
with M (c2 (M - 4.5) ln R), so the estimate does not saturate as long as the window grows.
Triggers and silent cells are binned in log-distance (0.02 decade) and ln-PGA (0.1) so the
cost is bounded by the number of occupied bins, not the number of phones; the unbinned twin
``log_posterior_reference`` is kept for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, logsumexp, ndtr

from crowdquake.domain.groundmotion import bssa14_sigma_ln, joyner_boore_km, ln_pga_median_ms2
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import FloatArray, MagnitudeEstimate

_LOG_DIST_BIN = 0.02  # decades
_LN_PGA_BIN = 0.1
_NOISE_SCALE_LN = 0.5


def magnitude_grid(params: DetectionParams) -> FloatArray:
    n = round((params.magnitude_max - params.magnitude_min) / params.magnitude_step) + 1
    return np.linspace(params.magnitude_min, params.magnitude_max, n)


# Flags of a triggered item (bits, combined with |):
TRUNCATED = 1  # conditional on having triggered: its silent neighbours are not (yet) counted
P_THRESHOLD = 2  # it triggered on the P peak (PGA > threshold / p_to_s_amplitude_ratio)
LOWER_BOUND = 4  # the reported PGA is only a lower bound (a P peak reported before S)


def _loglik_terms(
    m: FloatArray,
    dist_km: FloatArray,
    ln_pga: FloatArray,
    has_pga: np.ndarray,
    silent_dist_km: FloatArray,
    *,
    params: DetectionParams,
    false_trigger_prob: float,
    flags: npt.NDArray[np.int64] | None = None,
    silent_p_only: np.ndarray | None = None,
    ln_offset: float = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-item log-likelihood matrices (n_M, n_items) for pga / no-pga / silent items.

    ``flags`` (see TRUNCATED, P_THRESHOLD, LOWER_BOUND): a TRUNCATED trigger's likelihood is
    conditional on having triggered (divided by P(trigger)), otherwise the selection "only
    loud phones report" would bias early estimates upward; with P_THRESHOLD that trigger is
    on the P peak. A LOWER_BOUND PGA has likelihood P(PGA >= a) instead of the density at a.
    ``silent_p_only`` marks silent phones only the P wave has passed: their silence says the
    P peak stayed below threshold (PGA < threshold / p_to_s_amplitude_ratio).
    """
    flags = np.zeros(dist_km.shape, dtype=np.int64) if flags is None else flags
    trunc = (flags & TRUNCATED) > 0
    lower = (flags & LOWER_BOUND) > 0
    sigma = params.phone_sigma_ln
    # exceedance of a phone's own threshold: thresholds scatter too (0.005-0.02 g)
    sigma_exc = float(np.hypot(sigma, params.threshold_sigma_ln))
    ln_th = np.log(params.trigger_threshold_ms2)
    ln_th_p = ln_th - np.log(params.p_to_s_amplitude_ratio)
    ln_th_item = np.where((flags & P_THRESHOLD) > 0, ln_th_p, ln_th)
    eff = params.phone_efficiency
    pf = false_trigger_prob

    def mu(d: FloatArray) -> FloatArray:
        # the GMPE is evaluated once per distinct distance (binned inputs share many)
        ud, inv = np.unique(d, return_inverse=True)
        rjb = joyner_boore_km(ud[None, :], m[:, None], params.finite_fault_correction)
        return ln_pga_median_ms2(m[:, None], rjb, params.vs30_m_s)[:, inv] + ln_offset

    d_a = dist_km[has_pga]
    a = ln_pga[has_pga]
    mu_a = mu(d_a)
    z = (a[None, :] - mu_a) / sigma
    dens_eq = eff * np.exp(-0.5 * z**2) / (sigma * np.sqrt(2.0 * np.pi))
    dens_noise = pf * np.exp(-np.maximum(a - ln_th, 0.0) / _NOISE_SCALE_LN) / _NOISE_SCALE_LN
    ll_pga = np.log(dens_eq + dens_noise[None, :] + 1e-300)
    low_a = lower[has_pga]
    if low_a.any():
        surv_eq = eff * ndtr((mu_a[:, low_a] - a[None, low_a]) / sigma)
        surv_noise = pf * np.exp(-np.maximum(a[low_a] - ln_th, 0.0) / _NOISE_SCALE_LN)
        ll_pga[:, low_a] = np.log(surv_eq + surv_noise[None, :] + 1e-300)
    t_a = trunc[has_pga]
    if t_a.any():
        p_exc_a = ndtr((mu_a[:, t_a] - ln_th_item[has_pga][t_a][None, :]) / sigma_exc)
        ll_pga[:, t_a] -= np.log(eff * p_exc_a + pf + 1e-300)

    d_b = dist_km[~has_pga]
    p_exc_b = ndtr((mu(d_b) - ln_th_item[~has_pga][None, :]) / sigma_exc)
    ll_nopga = np.log(eff * p_exc_b + pf + 1e-300)
    ll_nopga[:, trunc[~has_pga]] = 0.0  # "it triggered" given "it triggered": no information

    p_only = np.zeros(silent_dist_km.shape, dtype=bool) if silent_p_only is None else silent_p_only
    ln_th_silent = np.where(p_only, ln_th_p, ln_th)
    p_exc_s = ndtr((mu(silent_dist_km) - ln_th_silent[None, :]) / sigma_exc)
    ll_silent = np.log(np.clip(1.0 - eff * p_exc_s - pf, 1e-300, None))
    return ll_pga, ll_nopga, ll_silent


def _prior(m: FloatArray, params: DetectionParams) -> FloatArray:
    return np.asarray(-params.magnitude_prior_b_value * np.log(10.0) * m)


def log_posterior_reference(
    dist_km: FloatArray,
    pga_ms2: FloatArray,
    silent_dist_km: FloatArray,
    silent_counts: FloatArray,
    *,
    params: DetectionParams,
    false_trigger_prob: float,
    flags: npt.NDArray[np.int64] | None = None,
    silent_p_only: np.ndarray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Unbinned log posterior (slow twin of `log_posterior`), normalised to max 0."""
    m = magnitude_grid(params)
    pga = np.asarray(pga_ms2, dtype=float)
    has = np.isfinite(pga) & (pga > 0)
    ln_pga = np.where(has, np.log(np.where(has, pga, 1.0)), 0.0)
    ll_a, ll_b, ll_s = _loglik_terms(
        m,
        np.asarray(dist_km, dtype=float),
        ln_pga,
        has,
        np.asarray(silent_dist_km, dtype=float),
        params=params,
        false_trigger_prob=false_trigger_prob,
        flags=None if flags is None else np.asarray(flags, dtype=np.int64),
        silent_p_only=None if silent_p_only is None else np.asarray(silent_p_only, dtype=bool),
    )
    lp = (
        _prior(m, params)
        + ll_a.sum(axis=1)
        + ll_b.sum(axis=1)
        + (ll_s * np.asarray(silent_counts, dtype=float)[None, :]).sum(axis=1)
    )
    return m, lp - lp.max()


def _bin_distance(d_km: FloatArray) -> FloatArray:
    return np.round(np.log10(np.maximum(d_km, 0.1)) / _LOG_DIST_BIN)


def log_posterior(
    dist_km: FloatArray,
    pga_ms2: FloatArray,
    silent_dist_km: FloatArray,
    silent_counts: FloatArray,
    *,
    params: DetectionParams,
    false_trigger_prob: float,
    flags: npt.NDArray[np.int64] | None = None,
    silent_p_only: np.ndarray | None = None,
    ln_offset: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Binned log posterior over `magnitude_grid`, normalised to max 0.

    ``ln_offset`` shifts the GMPE median of every item (ln units): a common amplitude offset.
    """
    posterior = _binned_posterior(
        dist_km,
        pga_ms2,
        silent_dist_km,
        silent_counts,
        params=params,
        false_trigger_prob=false_trigger_prob,
        flags=flags,
        silent_p_only=silent_p_only,
    )
    m, lp = posterior(ln_offset)
    return m, lp - lp.max()


def _binned_posterior(
    dist_km: FloatArray,
    pga_ms2: FloatArray,
    silent_dist_km: FloatArray,
    silent_counts: FloatArray,
    *,
    params: DetectionParams,
    false_trigger_prob: float,
    flags: npt.NDArray[np.int64] | None,
    silent_p_only: np.ndarray | None,
) -> Callable[[float], tuple[FloatArray, FloatArray]]:
    """Bin the evidence once; the returned function gives the unnormalised log posterior
    (log prior + log likelihood, -inf where the coarse pass found no mass) for an offset."""
    dist = np.asarray(dist_km, dtype=float)
    pga = np.asarray(pga_ms2, dtype=float)
    has = np.isfinite(pga) & (pga > 0)
    ln_pga = np.where(has, np.log(np.where(has, pga, 1.0)), 0.0)
    # bin triggers on (log-distance, ln PGA), silent cells on log-distance
    db = _bin_distance(dist)
    pb = np.where(has, np.round(ln_pga / _LN_PGA_BIN), -(10**6))
    # one int64 key per (distance bin, PGA bin): 1-D unique is ~10x faster than axis=0
    tr = np.zeros(dist.shape, dtype=np.int64) if flags is None else np.asarray(flags)
    keys = (
        tr.astype(np.int64) * 10**12
        + (db.astype(np.int64) + 1000) * 10**7
        + (pb.astype(np.int64) + 5 * 10**6)
    )
    uniq, counts = np.unique(keys, return_counts=True)
    u_tr = uniq // 10**12
    rest = uniq % 10**12
    u_db = rest // 10**7 - 1000
    u_pb = rest % 10**7 - 5 * 10**6
    u_dist = 10.0 ** (u_db * _LOG_DIST_BIN)
    u_has = u_pb > -(10**6)
    u_lnpga = np.where(u_has, u_pb * _LN_PGA_BIN, 0.0)
    sd = np.asarray(silent_dist_km, dtype=float)
    sc = np.asarray(silent_counts, dtype=float)
    s_only = np.zeros(sd.shape, dtype=bool) if silent_p_only is None else silent_p_only
    if sd.size:
        # one key per (distance bin, P-only flag)
        skey = _bin_distance(sd).astype(np.int64) * 2 + s_only.astype(np.int64)
        s_uniq, s_inv = np.unique(skey, return_inverse=True)
        s_counts: FloatArray = np.bincount(s_inv, weights=sc).astype(float)
        s_dist: FloatArray = 10.0 ** ((s_uniq // 2) * _LOG_DIST_BIN).astype(float)
        s_p_only = (s_uniq % 2) == 1
    else:
        s_counts = np.zeros(0)
        s_dist = np.zeros(0)
        s_p_only = np.zeros(0, dtype=bool)

    def evaluate(m: FloatArray, ln_offset: float) -> FloatArray:
        ll_a, ll_b, ll_s = _loglik_terms(
            m,
            u_dist,
            u_lnpga,
            u_has,
            s_dist,
            params=params,
            false_trigger_prob=false_trigger_prob,
            flags=u_tr,
            silent_p_only=s_p_only,
            ln_offset=ln_offset,
        )
        return np.asarray(
            _prior(m, params)
            + (ll_a * counts[u_has][None, :]).sum(axis=1)
            + (ll_b * counts[~u_has][None, :]).sum(axis=1)
            + (ll_s * s_counts[None, :]).sum(axis=1)
        )

    m = magnitude_grid(params)

    def posterior(ln_offset: float) -> tuple[FloatArray, FloatArray]:
        # coarse pass (every 5th node), then the fine grid only where the coarse log
        # posterior is within 40 of its maximum (e^-40 of the mass is ignored elsewhere)
        coarse_idx = np.arange(0, m.size, 5)
        lp_coarse = evaluate(m[coarse_idx], ln_offset)
        near = coarse_idx[lp_coarse >= lp_coarse.max() - 40.0]
        lo_i, hi_i = max(int(near.min()) - 5, 0), min(int(near.max()) + 5, m.size - 1)
        lp = np.full(m.size, -np.inf)
        lp[lo_i : hi_i + 1] = evaluate(m[lo_i : hi_i + 1], ln_offset)
        return m, lp

    return posterior


def summarize(
    m: FloatArray, log_post: FloatArray, trig_dist_km: FloatArray, params: DetectionParams
) -> MagnitudeEstimate:
    """Posterior mean, standard deviation and a 95% interval."""
    w = np.exp(log_post)
    w /= w.sum()
    mean = float(np.sum(w * m))
    sd = float(np.sqrt(max(np.sum(w * (m - mean) ** 2), 0.0)))
    cdf = np.cumsum(w)
    lo = float(m[min(int(np.searchsorted(cdf, 0.025)), m.size - 1)])
    hi = float(m[min(int(np.searchsorted(cdf, 0.975)), m.size - 1)])
    del trig_dist_km
    return MagnitudeEstimate(
        magnitude=round(mean, 3), uncertainty=round(sd, 3), lower_bound=lo, upper_bound=hi
    )


def estimate_magnitude(
    trig_dist_km: FloatArray,
    trig_pga_ms2: FloatArray,
    silent_dist_km: FloatArray,
    silent_counts: FloatArray,
    *,
    params: DetectionParams,
    false_trigger_prob: float,
    flags: npt.NDArray[np.int64] | None = None,
    silent_p_only: np.ndarray | None = None,
    shared_offset: bool = False,
) -> MagnitudeEstimate:
    """Magnitude posterior summary from triggered phones and silent phones (see module doc).

    ``trig_pga_ms2`` holds NaN where a trigger has no PGA. Distances are epicentral, km.
    ``flags`` and ``silent_p_only``: see `_loglik_terms`. With ``shared_offset`` the stated
    uncertainty and interval include an amplitude offset shared by all phones (module doc).
    """

    binned = _binned_posterior(
        trig_dist_km,
        trig_pga_ms2,
        silent_dist_km,
        silent_counts,
        params=params,
        false_trigger_prob=false_trigger_prob,
        flags=flags,
        silent_p_only=silent_p_only,
    )

    def posterior(ln_offset: float) -> MagnitudeEstimate:
        m, lp = binned(ln_offset)
        return summarize(m, lp - lp.max(), trig_dist_km, params)

    return _with_shared_offset(posterior, params, shared_offset)


@dataclass(frozen=True, slots=True)
class MagnitudeEvidence:
    """The magnitude evidence seen from one candidate epicentre (``estimate_magnitude``'s
    arguments): distances change with the epicentre, the phones do not."""

    trig_dist_km: FloatArray
    trig_pga_ms2: FloatArray
    silent_dist_km: FloatArray
    silent_counts: FloatArray
    flags: npt.NDArray[np.int64] | None = None
    silent_p_only: np.ndarray | None = None


def estimate_magnitude_marginal(
    candidates: Sequence[MagnitudeEvidence],
    log_weights: FloatArray,
    *,
    params: DetectionParams,
    false_trigger_prob: float,
    shared_offset: bool = False,
) -> MagnitudeEstimate:
    """Magnitude posterior marginalised over candidate epicentres.

    p(M | data) = sum_k w_k p(M | data, x_k), with w_k the weight of candidate epicentre x_k
    from the location's timing uncertainty (``log_weights``, normalised or not) and
    p(M | data, x_k) the posterior of the module doc with the distances from x_k, each
    normalised on its own. A location off by more than its uncertainty puts the phones at
    the wrong distances and biases a point-epicentre magnitude (docs/evaluation.md "Science
    II"); the mixture averages that over where the epicentre may be, and is wider.

    Each candidate's posterior is normalised because the evidences are not comparable across
    candidates: the silent phones the wave has passed are those within a radius of each
    candidate, so a candidate moved out of the phone cloud has fewer silences and a larger
    unnormalised likelihood at large M (tried: the 2014 South Napa demo scenario's first
    estimate went from M 5.45 to M 7.83 with the unnormalised weights, to M 6.03 with these).
    """
    binned = [
        _binned_posterior(
            c.trig_dist_km,
            c.trig_pga_ms2,
            c.silent_dist_km,
            c.silent_counts,
            params=params,
            false_trigger_prob=false_trigger_prob,
            flags=c.flags,
            silent_p_only=c.silent_p_only,
        )
        for c in candidates
    ]
    lw = np.asarray(log_weights, dtype=float)
    parts = [b(0.0) for b in binned]
    m = parts[0][0]
    stack = np.stack([lp - logsumexp(lp) for _, lp in parts]) + lw[:, None]
    lp = logsumexp(stack, axis=0)
    est = summarize(m, lp - lp.max(), candidates[0].trig_dist_km, params)
    if not shared_offset:
        return est

    # the shared-offset sensitivity is measured at the point epicentre (candidate 0): two
    # posteriors instead of two per candidate
    def posterior(ln_offset: float) -> MagnitudeEstimate:
        if ln_offset == 0.0:
            return est
        m0, lp0 = binned[0](ln_offset)
        return summarize(m0, lp0 - lp0.max(), candidates[0].trig_dist_km, params)

    return _with_shared_offset(posterior, params, shared_offset)


def _with_shared_offset(
    posterior: Callable[[float], MagnitudeEstimate], params: DetectionParams, shared: bool
) -> MagnitudeEstimate:
    """The estimate at offset 0; with ``shared`` its uncertainty and interval include the
    amplitude offset shared by all phones (``shared_offset_sd_magnitude``)."""
    est = posterior(0.0)
    if not shared:
        return est
    sd_m = shared_offset_sd_magnitude(est.magnitude, params, posterior)
    half = 1.96 * sd_m
    m0 = est.magnitude
    return MagnitudeEstimate(
        magnitude=m0,
        uncertainty=round(float(np.hypot(est.uncertainty, sd_m)), 3),
        lower_bound=round(m0 - float(np.hypot(m0 - est.lower_bound, half)), 3),
        upper_bound=round(m0 + float(np.hypot(est.upper_bound - m0, half)), 3),
    )


def shared_offset_sigma_ln(magnitude: float, params: DetectionParams) -> float:
    """SD (ln units) of the amplitude offset all phones of an event share: the BSSA14
    between-event tau(M) (eq. 14, ``bssa14_sigma_ln``) and the between-model spread of GMPE
    medians (``gmpe_model_sigma_ln``) in quadrature.

    >>> round(shared_offset_sigma_ln(4.0, DetectionParams()), 3)
    0.498
    """
    tau_ln, _ = bssa14_sigma_ln(magnitude)
    return float(np.hypot(tau_ln, params.gmpe_model_sigma_ln))


def shared_offset_sd_magnitude(
    magnitude: float,
    params: DetectionParams,
    posterior: Callable[[float], MagnitudeEstimate],
) -> float:
    """SD (magnitude units) of the estimate under a shared offset of +-sigma (ln units).

    The estimate is recomputed with every GMPE median shifted by +sigma and -sigma
    (``posterior(ln_offset)``) and half the difference is the sensitivity: it weighs the
    offset by the evidence actually used (PGAs near the source, the trigger/silence edge
    farther out), so where the median saturates (large M close in) the stated uncertainty
    grows, and where the silent edge pins M it stays small.
    """
    sigma_ln = shared_offset_sigma_ln(magnitude, params)
    up = posterior(sigma_ln).magnitude
    down = posterior(-sigma_ln).magnitude
    return abs(down - up) / 2.0


def log10_prob_trigger(
    magnitude: float, dist_km: FloatArray, params: DetectionParams
) -> FloatArray:
    """log10 of the chance a phone at ``dist_km`` triggers (GMPE exceedance x efficiency)."""
    d = np.asarray(dist_km, dtype=float)
    rjb = joyner_boore_km(d, magnitude, params.finite_fault_correction)
    z = (
        ln_pga_median_ms2(magnitude, rjb, params.vs30_m_s) - np.log(params.trigger_threshold_ms2)
    ) / float(np.hypot(params.phone_sigma_ln, params.threshold_sigma_ln))
    return np.asarray((log_ndtr(z) + np.log(params.phone_efficiency)) / np.log(10.0))


def max_trigger_distance_km(
    magnitude: float, params: DetectionParams, min_prob: float = 1e-3
) -> float:
    """Largest epicentral distance where a phone still triggers with probability min_prob."""
    d = np.geomspace(1.0, params.max_association_distance_km, 400)
    ok = log10_prob_trigger(magnitude, d, params) >= np.log10(min_prob)
    if not ok.any():
        return 1.0
    return float(d[np.nonzero(ok)[0][-1]])
