"""The detection statistic: are there more triggers in a cell neighbourhood than noise explains?

With n active phones in a neighbourhood, each producing false triggers as a Poisson process of
rate lambda per device-hour, the chance that one phone triggers at least once in a window of W
seconds is p = 1 - exp(-lambda W / 3600). The number K of phones that trigger by chance is then
Binomial(n, p) and the evidence of k distinct triggering phones is the tail

    P(K >= k | n, p) = binom.sf(k - 1, n, p)        (computed as logsf for tiny values).

A declaration needs the tail below a threshold alpha set from a target false-event rate per
region-year: a region of N_c cells tested every W seconds performs about
N_tests = N_c * (3.15576e7 / W) tests per year, so alpha = target / N_tests (Bonferroni; the
tests overlap in space and time, so this is conservative; Naus 1982, JASA 77(377) on scan
statistics). lambda depends on the local hour of day (phones are steadier at night, MyShake:
97% steady at 03:00 vs 19% at midday) and is learned from unassociated triggers with a
conjugate Gamma prior (Gelman et al. 2013, Bayesian Data Analysis 3rd ed., sec. 2.6):
Gamma(a, b) prior on lambda, counts c over exposure E device-hours -> Gamma(a + c, b + E).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from crowdquake.domain.types import FloatArray

SECONDS_PER_YEAR = 365.25 * 86400.0
LN10 = math.log(10.0)


def local_hour(time_s: float, lon_deg: float) -> int:
    """Local mean solar hour 0-23 (UTC hour + longitude / 15 degrees per hour).

    >>> local_hour(0.0, 0.0), local_hour(0.0, -120.0), local_hour(3600.0 * 23.5, 15.0)
    (0, 16, 0)
    """
    hours = (time_s / 3600.0 + lon_deg / 15.0) % 24.0
    return int(hours) % 24


def trigger_probability(rate_per_device_hour: float, window_s: float) -> float:
    """P(a phone triggers at least once in ``window_s``) for a Poisson rate per device-hour.

    >>> round(trigger_probability(0.2, 10.0), 8)
    0.0005554
    """
    return -math.expm1(-rate_per_device_hour * window_s / 3600.0)


def log10_tail_probability(k: int, n: int, p: float) -> float:
    """log10 P(K >= k) for K ~ Binomial(n, p). Equal to 0 when k <= 0.

    >>> round(log10_tail_probability(1, 1, 0.1), 6)
    -1.0
    >>> round(log10_tail_probability(5, 20, 5.554e-4), 2)
    -12.09
    """
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    return float(binom.logsf(k - 1, n, p)) / LN10


def log10_tail_lower_bound(k: int, n: int, p: float) -> float:
    """A cheap lower bound of `log10_tail_probability` (for skipping the exact tail).

    For p < a = k/n < 1: P(K >= k) >= exp(-n D(a || p)) / sqrt(8 k (1 - a)), D the binary
    relative entropy (Ash 1965, Information Theory, lemma 4.7.2). For k <= floor(n p), k is at
    most the median, so P(K >= k) >= 1/2. Otherwise (k = n, p = 0 or 1) the exact value.

    >>> log10_tail_lower_bound(5, 20, 5.554e-4) <= log10_tail_probability(5, 20, 5.554e-4)
    True
    """
    if k <= 0:
        return 0.0
    if k <= math.floor(n * p):
        return -math.log10(2.0)
    if k >= n or not 0.0 < p < 1.0:
        return log10_tail_probability(k, n, p)
    a = k / n
    kl = a * math.log(a / p) + (1.0 - a) * math.log((1.0 - a) / (1.0 - p))
    return (-n * kl - 0.5 * math.log(8.0 * k * (1.0 - a))) / LN10


def tests_per_year(n_cells: int, window_s: float) -> float:
    """Number of (roughly independent) tests a region of ``n_cells`` performs per year."""
    return n_cells * SECONDS_PER_YEAR / window_s


def log10_threshold(target_false_per_year: float, n_cells: int, window_s: float) -> float:
    """log10 alpha: declare when log10 P(K >= k) <= this value.

    >>> round(log10_threshold(1.0, 2401, 10.0), 3)
    -9.879
    """
    return math.log10(target_false_per_year / tests_per_year(n_cells, window_s))


def critical_count(n: int, p: float, log10_alpha: float) -> int:
    """Smallest k with log10 P(K >= k | n, p) <= log10_alpha (n + 1 if none).

    >>> critical_count(20, 5.554e-4, -9.879)
    5
    """
    # binom.isf gives the quantile; step to the exact boundary because the tail is discrete
    ks = np.arange(0, n + 2)
    tails = binom.logsf(ks - 1, n, p) / LN10
    ok = np.nonzero(tails <= log10_alpha)[0]
    return int(ks[ok[0]]) if ok.size else n + 1


@dataclass(frozen=True, slots=True)
class BackgroundRates:
    """False-trigger rate per device-hour by local hour of day, with its Gamma posterior.

    ``shape`` and ``rate_device_hours`` are the Gamma(a, b) parameters of each hour
    (mean a / b per device-hour).

    >>> bg = BackgroundRates.prior(0.2, 50.0)
    >>> bg.rate_per_device_hour(3)
    0.2
    >>> round(bg.updated(3, 30, 50.0).rate_per_device_hour(3), 3)   # (10 + 30) / (50 + 50)
    0.4
    """

    shape: tuple[float, ...]
    rate_device_hours: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.shape) != 24 or len(self.rate_device_hours) != 24:
            raise ValueError("BackgroundRates needs 24 hourly values")

    @classmethod
    def prior(
        cls, rate_per_device_hour: float = 0.2, strength_device_hours: float = 50.0
    ) -> BackgroundRates:
        a = rate_per_device_hour * strength_device_hours
        return cls((a,) * 24, (strength_device_hours,) * 24)

    @classmethod
    def from_rates(
        cls, rates_per_device_hour: FloatArray | list[float], strength_device_hours: float = 50.0
    ) -> BackgroundRates:
        r = [float(x) for x in rates_per_device_hour]
        return cls(tuple(x * strength_device_hours for x in r), (strength_device_hours,) * 24)

    def rate_per_device_hour(self, hour: int) -> float:
        return self.shape[hour] / self.rate_device_hours[hour]

    def rates(self) -> FloatArray:
        return np.asarray(np.array(self.shape) / np.array(self.rate_device_hours), dtype=float)

    def updated(self, hour: int, n_unassociated: int, device_hours: float) -> BackgroundRates:
        """Conjugate update of one hour with a count and its exposure (device-hours)."""
        if n_unassociated < 0 or device_hours < 0:
            raise ValueError("counts and exposure must be non-negative")
        shape = list(self.shape)
        rate = list(self.rate_device_hours)
        shape[hour] += n_unassociated
        rate[hour] += device_hours
        return BackgroundRates(tuple(shape), tuple(rate))

    def updated_many(
        self,
        counts_by_hour: FloatArray | list[float],
        device_hours_by_hour: FloatArray | list[float],
    ) -> BackgroundRates:
        """Update all 24 hours at once (e.g. from a nightly count of unassociated triggers)."""
        c = np.asarray(counts_by_hour, dtype=float)
        e = np.asarray(device_hours_by_hour, dtype=float)
        if c.shape != (24,) or e.shape != (24,) or (c < 0).any() or (e < 0).any():
            raise ValueError("need 24 non-negative counts and exposures")
        return BackgroundRates(
            tuple((np.array(self.shape) + c).tolist()),
            tuple((np.array(self.rate_device_hours) + e).tolist()),
        )
