"""Hypocentre location from trigger times on local km coordinates.

1. Grid search start: for each epicentre on a square grid and every candidate origin time
   (t_i - T_P,i or t_i - T_S,i of any trigger), count the triggers that fit within the
   tolerance with their better phase; keep the node and t0 that explain the most triggers.
   This is the classic "maximum consistent subset" start (cf. the grid-based associators of
   Johnson et al. 1997, BSSA 87(2); PyOcto, Münchmeyer 2024, Seismica 3(1)).
2. Robust refinement: ``scipy.optimize.least_squares(loss="soft_l1")`` on (x, y, t0[, z]) with
   residuals r_i = (t_i - t0 - T_phase_i(d_i, z)) / sigma_pick, the phase of each trigger
   re-chosen after each solve (at most three rounds).
3. Negative evidence: cells whose active phones stayed silent although the predicted P wave
   passed them add the residual sqrt(2 n_silent (-ln(1 - q(d) s(t)))), i.e. the Gaussian-
   equivalent of the Bernoulli log-likelihood of their silence; q(d) is the chance a phone at
   d triggers (GMPE + efficiency) and s(t) a logistic ramp from "wave not yet there" to
   "wave passed" (width sigma_pick). It pushes the source away from places that stayed quiet.
4. Uncertainty: covariance = (J^T J)^-1 s² with J the Jacobian at the solution and s² a
   robust (MAD-based, >= 1) variance factor of the normalised residuals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from crowdquake.domain.traveltime import TravelTimeModel
from crowdquake.domain.types import FloatArray, Phase


@dataclass(frozen=True, slots=True)
class SilentCells:
    """Silent phones aggregated per cell, on the same local km grid as the triggers."""

    x_km: FloatArray
    y_km: FloatArray
    n_silent: FloatArray
    trigger_prob: FloatArray  # q(d) per cell is a function of distance: see `q_of_distance`


@dataclass(frozen=True, slots=True)
class GridStart:
    x_km: float
    y_km: float
    origin_time_s: float
    n_consistent: int
    consistent: np.ndarray  # bool mask over triggers
    phases: tuple[Phase, ...]


@dataclass(frozen=True, slots=True)
class LocationResult:
    x_km: float
    y_km: float
    depth_km: float
    origin_time_s: float
    phases: tuple[Phase, ...]
    residuals_s: FloatArray
    sigma_x_km: float
    sigma_y_km: float
    sigma_depth_km: float
    sigma_origin_time_s: float
    depth_fixed: bool

    @property
    def horizontal_uncertainty_km(self) -> float:
        return float(np.hypot(self.sigma_x_km, self.sigma_y_km))


def _phase_residuals(
    model: TravelTimeModel, d_km: FloatArray, depth_km: float, t_rel: FloatArray
) -> tuple[FloatArray, FloatArray]:
    shape = d_km.shape
    tp = model.travel_time_s(d_km.ravel(), depth_km, "P").reshape(shape)
    ts = model.travel_time_s(d_km.ravel(), depth_km, "S").reshape(shape)
    return t_rel - tp, t_rel - ts


def grid_search(
    x_km: FloatArray,
    y_km: FloatArray,
    t_s: FloatArray,
    model: TravelTimeModel,
    *,
    depth_km: float,
    tolerance_s: float,
    center_km: tuple[float, float],
    half_width_km: float,
    n_side: int,
    silent: SilentCells | None = None,
    now_s: float | None = None,
    prob_at_km: Callable[[FloatArray], FloatArray] | None = None,
) -> GridStart:
    """Best epicentre/origin time on a grid by the number of consistent triggers.

    Ties are broken by the smaller summed |residual| (clipped at the tolerance) and by fewer
    S readings. With
    ``silent`` cells, ``now_s`` and ``prob_at_km`` (trigger probability vs distance), each
    node's best score also pays 0.5 per nat of the silence log-likelihood (the wave passed
    those phones, yet they stayed quiet), so a start is never placed among silent phones
    when an equally good one exists elsewhere (a local optimiser cannot escape that basin).
    """
    t_ref = float(np.min(t_s))
    t_rel = np.asarray(t_s, dtype=float) - t_ref
    gx = center_km[0] + np.linspace(-half_width_km, half_width_km, n_side)
    gy = center_km[1] + np.linspace(-half_width_km, half_width_km, n_side)
    mx, my = np.meshgrid(gx, gy, indexing="ij")
    nx, ny = mx.ravel(), my.ravel()
    d = np.hypot(nx[:, None] - x_km[None, :], ny[:, None] - y_km[None, :])  # (G, n)
    r_p, r_s = _phase_residuals(model, d, depth_km, t_rel[None, :])
    cand = np.concatenate([r_p, r_s], axis=1)  # (G, 2n) candidate origin times
    # float32 halves the memory traffic of the (G, 2n, n) tensors; 1e-6 s is plenty
    r_p32, r_s32, c32 = r_p.astype(np.float32), r_s.astype(np.float32), cand.astype(np.float32)
    err_p = np.abs(r_p32[:, None, :] - c32[:, :, None])  # (G, 2n, n)
    err = np.minimum(err_p, np.abs(r_s32[:, None, :] - c32[:, :, None]))
    fits = err <= tolerance_s
    count = fits.sum(axis=2)
    misfit = np.minimum(err, tolerance_s).sum(axis=2) / (tolerance_s * err.shape[2])
    # tie-break towards P: the first phones to trigger near a source are reached by P first,
    # and an all-S reading of the same times puts a source closer with an earlier t0
    n_s = (fits & (err_p > tolerance_s)).sum(axis=2) / err.shape[2]
    score = count - 0.5 * misfit - 0.25 * n_s
    best_c = np.argmax(score, axis=1)
    node_score = score[np.arange(score.shape[0]), best_c]
    if silent is not None and now_s is not None and prob_at_km is not None and silent.x_km.size:
        t0_node = cand[np.arange(cand.shape[0]), best_c]  # (G,) relative origin times
        ds = np.hypot(nx[:, None] - silent.x_km[None, :], ny[:, None] - silent.y_km[None, :])
        tp = model.travel_time_s(ds.ravel(), depth_km, "P").reshape(ds.shape)
        passed = (now_s - t_ref - t0_node[:, None] - tp) > tolerance_s
        q = np.clip(prob_at_km(ds.ravel()).reshape(ds.shape), 0.0, 0.999)
        nll = -(silent.n_silent[None, :] * np.log1p(-q) * passed).sum(axis=1)
        node_score = node_score - 0.5 * nll
    g = int(np.argmax(node_score))
    c = int(best_c[g])
    t0_rel = float(cand[g, c])
    use_p = np.abs(r_p[g] - t0_rel) <= np.abs(r_s[g] - t0_rel)
    phases: tuple[Phase, ...] = tuple("P" if u else "S" for u in use_p)
    return GridStart(
        float(nx[g]), float(ny[g]), t0_rel + t_ref, int(count[g, c]), np.asarray(fits[g, c]), phases
    )


def locate(
    x_km: FloatArray,
    y_km: FloatArray,
    t_s: FloatArray,
    model: TravelTimeModel,
    *,
    depth_km: float,
    start: tuple[float, float, float],
    pick_sigma_s: float = 0.5,
    free_depth: bool = False,
    silent: SilentCells | None = None,
    now_s: float | None = None,
    silent_weight: float = 1.0,
    phases: tuple[Phase, ...] | None = None,
) -> LocationResult:
    """Robust least-squares hypocentre from a start (x_km, y_km, origin_time_s)."""
    x_km = np.asarray(x_km, dtype=float)
    y_km = np.asarray(y_km, dtype=float)
    t_ref = float(np.min(t_s))
    t_rel = np.asarray(t_s, dtype=float) - t_ref
    use_silent = (
        silent is not None
        and now_s is not None
        and silent.n_silent.size > 0
        and silent_weight > 0.0
    )
    now_rel = (now_s - t_ref) if now_s is not None else 0.0

    def choose_phases(p: FloatArray) -> np.ndarray:
        d = np.hypot(p[0] - x_km, p[1] - y_km)
        z = p[3] if free_depth else depth_km
        r_p, r_s = _phase_residuals(model, d, z, t_rel - p[2])
        return np.asarray(np.abs(r_p) <= np.abs(r_s))

    def residuals(p: FloatArray, is_p: np.ndarray) -> FloatArray:
        z = p[3] if free_depth else depth_km
        d = np.hypot(p[0] - x_km, p[1] - y_km)
        r_p, r_s = _phase_residuals(model, d, z, t_rel - p[2])
        r = np.where(is_p, r_p, r_s) / pick_sigma_s
        if not use_silent:
            return r
        assert silent is not None
        ds = np.hypot(p[0] - silent.x_km, p[1] - silent.y_km)
        tp = model.travel_time_s(ds, z, "P")
        arg = np.clip((now_rel - p[2] - tp) / pick_sigma_s, -30.0, 30.0)
        passed = 1.0 / (1.0 + np.exp(-arg))
        nll = -silent.n_silent * np.log1p(-np.clip(silent.trigger_prob * passed, 0.0, 0.999))
        penalty = np.sqrt(2.0 * silent_weight * nll + 1e-6) - 1e-3
        return np.concatenate([r, penalty])

    p0 = [start[0], start[1], start[2] - t_ref]
    lower = [-np.inf, -np.inf, -np.inf]
    upper = [np.inf, np.inf, np.inf]
    if free_depth:
        p0.append(depth_km)
        lower.append(0.5)
        upper.append(60.0)
    p = np.array(p0, dtype=float)
    is_p = np.array([ph == "P" for ph in phases]) if phases is not None else choose_phases(p)
    sol = None
    for _ in range(3):
        sol = least_squares(
            residuals,
            p,
            args=(is_p,),
            loss="soft_l1",
            f_scale=1.0,
            bounds=(lower, upper),
            x_scale=np.ones_like(p),
            method="trf",
        )
        p = sol.x
        new_is_p = choose_phases(p)
        if np.array_equal(new_is_p, is_p):
            break
        is_p = new_is_p
    assert sol is not None
    # final pass without gross outliers (> 4 pick sigmas): soft_l1 bounds their pull but does
    # not remove it, and a few bad clocks would otherwise bias the epicentre
    r_now = residuals(p, is_p)[: x_km.size]
    keep = np.abs(r_now) <= 4.0
    if 4 <= keep.sum() < keep.size:
        x_all, y_all, t_all, p_all = x_km, y_km, t_rel, is_p
        x_km, y_km, t_rel, is_p = x_km[keep], y_km[keep], t_rel[keep], is_p[keep]
        sol = least_squares(
            residuals,
            p,
            args=(is_p,),
            loss="soft_l1",
            f_scale=1.0,
            bounds=(lower, upper),
            x_scale=np.ones_like(p),
            method="trf",
        )
        p = sol.x
        x_km, y_km, t_rel, is_p = x_all, y_all, t_all, p_all
        is_p = choose_phases(p)
    n_trig = int(keep.sum()) if 4 <= keep.sum() < keep.size else x_km.size
    r_trig = sol.fun[:n_trig]
    jac = sol.jac[:n_trig]
    mad = float(np.median(np.abs(r_trig - np.median(r_trig)))) * 1.4826 if n_trig else 1.0
    s2 = max(1.0, mad**2)
    try:
        cov = np.linalg.pinv(sol.jac.T @ sol.jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((p.size, p.size), np.inf)
    sig = np.sqrt(np.abs(np.diag(cov)))
    del jac
    z = float(p[3]) if free_depth else depth_km
    d = np.hypot(p[0] - x_km, p[1] - y_km)
    r_p, r_s = _phase_residuals(model, d, z, t_rel - p[2])
    res = np.where(is_p, r_p, r_s)
    return LocationResult(
        x_km=float(p[0]),
        y_km=float(p[1]),
        depth_km=z,
        origin_time_s=float(p[2]) + t_ref,
        phases=tuple("P" if u else "S" for u in is_p),
        residuals_s=np.asarray(res),
        sigma_x_km=float(sig[0]),
        sigma_y_km=float(sig[1]),
        sigma_depth_km=float(sig[3]) if free_depth else float("nan"),
        sigma_origin_time_s=float(sig[2]),
        depth_fixed=not free_depth,
    )
