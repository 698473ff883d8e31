"""Wave-consistency tests that separate earthquakes from look-alikes.

An earthquake's triggers fit t_i = t0 + T(d_i) with one source; look-alikes do not:

* one shaking building (or a crowd in one spot): many phones, one site. Counted by distinct
  H3 resolution-9 cells (avg edge 0.17 km, ~ a city block) among the consistent triggers.
* a storm or other long burst over a wide area: trigger times are unrelated to any source, so
  a fitted source explains only the triggers that happen to fall in its P/S bands. Measured as
  the share of all triggers inside the fitted triggers' time span that fit.
* simultaneous bursts or a moving source (train): times do not grow with distance like a
  seismic front. Measured by the slope b of observed times against predicted travel times
  (ordinary least squares, t_i = a + b T_i): b ~ 1 for a wavefront, ~0 for a simultaneous
  burst; tested only when the predicted times spread enough for the slope to be resolved.
"""

from __future__ import annotations

import math

import numpy as np

from crowdquake.domain.cells import cell_of
from crowdquake.domain.types import FloatArray

SITE_RESOLUTION = 9


def distinct_sites(lat_deg: FloatArray, lon_deg: FloatArray) -> int:
    """Number of distinct H3 resolution-9 cells (city-block sized sites).

    >>> import numpy as np
    >>> distinct_sites(np.array([35.0, 35.0001, 35.1]), np.array([-118.0, -118.0, -118.0]))
    2
    """
    return len(
        {
            cell_of(a, b, SITE_RESOLUTION)
            for a, b in zip(lat_deg.tolist(), lon_deg.tolist(), strict=True)
        }
    )


def site_leaders(x_km: FloatArray, y_km: FloatArray, radius_km: float = 0.3) -> np.ndarray:
    """Indices of one trigger per site: greedy leader clustering in input order.

    A trigger within ``radius_km`` of an earlier leader belongs to that leader's site (one
    building, one block); the count of leaders is the number of independent places that
    shook. Deterministic for a given order.

    >>> import numpy as np
    >>> site_leaders(np.array([0.0, 0.05, 0.1, 2.0]), np.array([0.0, 0.0, 0.02, 0.0])).tolist()
    [0, 3]
    """
    leaders: list[int] = []
    for i in range(x_km.size):
        if not leaders or np.min(np.hypot(x_km[leaders] - x_km[i], y_km[leaders] - y_km[i])) > (
            radius_km
        ):
            leaders.append(i)
    return np.asarray(leaders, dtype=int)


def moveout_slope(t_obs_s: FloatArray, t_pred_s: FloatArray) -> tuple[float, float]:
    """OLS slope of observed arrival times on predicted travel times, and its standard error.

    >>> import numpy as np
    >>> tp = np.linspace(1.0, 5.0, 9)
    >>> b, se = moveout_slope(10.0 + tp, tp)
    >>> round(b, 6), round(se, 6)
    (1.0, 0.0)
    """
    n = t_obs_s.size
    if n < 3:
        return math.nan, math.inf
    x = t_pred_s - t_pred_s.mean()
    sxx = float(np.sum(x * x))
    if sxx <= 1e-12:
        return math.nan, math.inf
    y = t_obs_s - t_obs_s.mean()
    b = float(np.sum(x * y) / sxx)
    resid = y - b * x
    s2 = float(np.sum(resid * resid)) / (n - 2)
    return b, math.sqrt(s2 / sxx)


def no_moveout(
    t_obs_s: FloatArray, t_pred_s: FloatArray, min_slope: float = 0.5, n_sigma: float = 3.0
) -> bool:
    """True when the times clearly do not grow with distance like a seismic front.

    >>> import numpy as np
    >>> tp = np.linspace(1.0, 5.0, 30)
    >>> no_moveout(np.full(30, 3.0) + 0.01 * np.sin(np.arange(30)), tp)
    True
    >>> no_moveout(10.0 + tp + 0.01 * np.sin(np.arange(30)), tp)
    False
    """
    b, se = moveout_slope(t_obs_s, t_pred_s)
    return bool(np.isfinite(b) and b + n_sigma * se < min_slope)


def span_fraction(fit_times_s: FloatArray, all_times_s: FloatArray, pad_s: float) -> float:
    """Share of all triggers in the fitted triggers' time span (padded) that are fitted.

    >>> import numpy as np
    >>> span_fraction(np.array([1.0, 2.0]), np.array([1.0, 2.0, 1.5, 9.0]), 0.5)
    0.6666666666666666
    """
    if fit_times_s.size == 0:
        return 0.0
    lo = float(fit_times_s.min()) - pad_s
    hi = float(fit_times_s.max()) + pad_s
    n_span = int(np.sum((all_times_s >= lo) & (all_times_s <= hi)))
    return fit_times_s.size / max(n_span, 1)
