"""Registration cohorts: are an event's members a random sample, by registration date, of the
phones around it?

An earthquake shakes a phone whatever day it was registered: under a real event the members
are a random sample, by registration date, of the active phones that feel it. An attacker's
devices come from a campaign: registered in a few bursts within a narrow window (however long
ago: the patient attacker keeps them alive past the trust ramp), so his members pile up in one
registration window while the honest phones around them spread over the network's whole
history. Two pieces (docs/science.md, section 7b):

* ``overrepresented_windows``, a scan over registration time: for windows of several widths,
  each on two grids offset by half a width, the number x of members registered in a window is
  hypergeometric when members are a random sample of the N phones in reach (n of them in the
  window, X members): x ~ Hypergeom(N, n, X). A window with P(>= x) below
  10^``log10_alpha`` / (number of windows tested) (Bonferroni) holds a cohort that triggered
  far more often than the phones registered at other times: its phones are not independent
  witnesses. The narrowest significant windows are kept, a wider one only when it adds
  members they do not cover (a wide window around a narrow campaign would take honest
  phones with it). This is the scan statistic of Naus (1965), "The distribution of the size of the
  maximum cluster of points on a line", JASA 60(310) 532-538, and Kulldorff (1997), "A spatial
  scan statistic", Communications in Statistics - Theory and Methods 26(6) 1481-1496 (count in
  a window against its expectation), with a Bonferroni bound instead of their Monte Carlo.
* ``distinct_cohorts``: with no honest phones in reach the scan has no reference (the
  attacker's phones are all there is, and his members are a random sample of them); an
  automatic alert then needs members registered in several distinct weeks, as the members of
  any network that grew over more than a few weeks are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln
from scipy.stats import hypergeom

from crowdquake.domain.types import FloatArray

SECONDS_PER_DAY = 86400.0


def overrepresented_windows(
    member_registered_s: FloatArray,
    reach_registered_s: FloatArray,
    *,
    widths_s: Sequence[float],
    log10_alpha: float,
    min_members: int,
) -> list[tuple[float, float]]:
    """Registration windows [start, end) (Unix s) over-represented among the members.

    ``member_registered_s``: registration times of the members (distinct devices, all among
    the phones in reach); ``reach_registered_s``: those of every active phone in reach, members
    included. Unknown times (NaN) take no part. A window needs ``min_members`` members.

    >>> day = 86400.0
    >>> reach = np.concatenate([np.arange(1000) * day, 500.2 * day + np.arange(40) * 60.0])
    >>> members = 500.2 * day + np.arange(40) * 60.0   # every member from one 40-min burst
    >>> w = overrepresented_windows(members, reach, widths_s=[day], log10_alpha=-6.0,
    ...                             min_members=3)
    >>> any(a <= 500.2 * day < b for a, b in w)
    True
    >>> overrepresented_windows(reach[::25], reach, widths_s=[day, 7 * day],
    ...                         log10_alpha=-6.0, min_members=3)       # a random sample
    []
    """
    m = np.asarray(member_registered_s, dtype=float)
    r = np.asarray(reach_registered_s, dtype=float)
    m = m[np.isfinite(m)]
    r = np.sort(r[np.isfinite(r)])  # floor((r - offset) / width) of it is sorted too
    n_reach, n_members = r.size, m.size
    if n_members < min_members or n_reach <= n_members:
        return []  # every phone in reach a member: no reference to compare with
    # (log10 P(= x) <= log10 P(>= x), x, n, start, end) of the windows with an excess
    excess: list[tuple[float, int, int, float, float]] = []
    n_tests = 0
    for width in widths_s:
        for offset in (0.0, 0.5 * width):
            m_bin, x = np.unique(np.floor((m - offset) / width), return_counts=True)
            n_tests += m_bin.size
            eligible = x >= min_members
            if not eligible.any():
                continue
            m_bin, x = m_bin[eligible], x[eligible]
            r_bin = np.floor((r - offset) / width)
            n = np.searchsorted(r_bin, m_bin, "right") - np.searchsorted(r_bin, m_bin, "left")
            above = x > n * (n_members / n_reach)  # at or below its expectation: no excess
            if not above.any():
                continue
            m_bin, x, n = m_bin[above], x[above], n[above]
            bound = _log10_pmf(x, n_reach, n, n_members)
            for b, lb, xi, ni in zip(
                m_bin.tolist(), bound.tolist(), x.tolist(), n.tolist(), strict=True
            ):
                excess.append((lb, xi, ni, offset + b * width, offset + (b + 1) * width))
    threshold = log10_alpha - math.log10(max(n_tests, 1))
    found: list[tuple[float, float, float]] = []  # (log10 p, start, end)
    for lb, xi, ni, a, b in excess:
        if lb >= threshold:
            continue  # P(>= x) >= P(= x): not significant, no exact tail needed
        # sf, not logsf: scipy's logsf sums in log space per element (20x slower); an
        # underflow to 0 is -inf, far below any threshold
        with np.errstate(divide="ignore"):
            lp = float(np.log10(hypergeom.sf(xi - 1, n_reach, ni, n_members)))
        found.append((lp, a, b))
    # the narrowest windows first; a wider one only for members they do not already cover
    # (else a 91-day window around a 1-day campaign would take honest phones with it)
    significant = sorted(((b - a, a, b) for lp, a, b in found if lp < threshold))
    covered = np.zeros(m.size, dtype=bool)
    out: list[tuple[float, float]] = []
    for _, a, b in significant:
        inside = (m >= a) & (m < b)
        if np.count_nonzero(inside & ~covered) >= min_members:
            out.append((a, b))
            covered |= inside
    return out


def _log10_pmf(x: np.ndarray, n_total: int, n_good: np.ndarray, n_drawn: int) -> np.ndarray:
    """log10 P(X = x), X ~ Hypergeom(n_total, n_good, n_drawn): a lower bound of P(X >= x),
    used to skip the exact tail where it cannot be small (gammaln: vectorised and cheap).

    >>> round(float(_log10_pmf(np.array([1]), 4, np.array([2]), 2)[0]), 6)  # 4 of 6 pairs
    -0.176091
    """

    def log_choose(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        return np.asarray(
            gammaln(np.add(a, 1)) - gammaln(np.add(b, 1)) - gammaln(np.subtract(a, b) + 1)
        )

    lp = (
        log_choose(n_good, x)
        + log_choose(np.subtract(n_total, n_good), np.subtract(n_drawn, x))
        - log_choose(n_total, n_drawn)
    )
    return np.asarray(lp / math.log(10.0))


def in_windows(registered_s: FloatArray, windows: Sequence[tuple[float, float]]) -> np.ndarray:
    """Mask of the times inside any of the windows [start, end).

    >>> in_windows(np.array([1.0, 5.0, np.nan]), [(0.0, 2.0)]).tolist()
    [True, False, False]
    """
    t = np.asarray(registered_s, dtype=float)
    out = np.zeros(t.size, dtype=bool)
    for a, b in windows:
        out |= (t >= a) & (t < b)
    return out


def distinct_cohorts(registered_s: FloatArray, width_s: float) -> int:
    """Number of distinct registration windows of ``width_s`` (aligned on the Unix epoch);
    every unknown time (NaN) is a cohort of its own.

    >>> day = 86400.0
    >>> distinct_cohorts(np.array([0.0, 3600.0, 8 * day, np.nan, np.nan]), 7 * day)
    4
    """
    t = np.asarray(registered_s, dtype=float)
    known = np.isfinite(t)
    return int(np.unique(np.floor(t[known] / width_s)).size + np.count_nonzero(~known))
