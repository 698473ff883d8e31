"""The binomial detection statistic: nominal false-alarm rate and the background-rate prior."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom

from crowdquake.domain.detection import (
    BackgroundRates,
    critical_count,
    log10_tail_lower_bound,
    log10_tail_probability,
    log10_threshold,
    trigger_probability,
)


@pytest.mark.parametrize(
    ("n_devices", "rate_per_hour", "log10_alpha", "trials"),
    [
        (200, 0.2, -3.0, 200_000),
        (1500, 0.5, -2.5, 40_000),
    ],
)
def test_false_alarm_rate_on_pure_noise_matches_nominal(
    n_devices: int, rate_per_hour: float, log10_alpha: float, trials: int
) -> None:
    """Simulate Bernoulli noise (each phone triggers in W with p = 1 - exp(-lambda W)) and
    count how often the statistic declares; it must match the exact tail of the critical
    count within sampling error (4 sigma) and never exceed alpha beyond that error."""
    window_s = 10.0
    p = trigger_probability(rate_per_hour, window_s)
    k_crit = critical_count(n_devices, p, log10_alpha)
    nominal = float(binom.sf(k_crit - 1, n_devices, p))
    assert nominal <= 10**log10_alpha

    rng = np.random.default_rng(20261125)
    declared = 0
    chunk_size = 10_000  # chunks keep memory bounded
    for chunk in range(0, trials, chunk_size):
        fired = rng.random((chunk_size, n_devices)) < p
        k = fired.sum(axis=1)
        stat = np.array([log10_tail_probability(int(x), n_devices, p) for x in np.unique(k)])
        declared_k = np.unique(k)[stat <= log10_alpha]
        declared += int(np.isin(k, declared_k).sum())
        del chunk
    rate = declared / trials
    sigma = math.sqrt(nominal * (1 - nominal) / trials)
    assert abs(rate - nominal) <= 4 * sigma + 1e-12
    assert rate <= 10**log10_alpha + 4 * sigma


def test_threshold_accounts_for_number_of_tests() -> None:
    # 2401 cells tested every 10 s for a year -> ~7.6e9 tests; 1 false event per year
    assert log10_threshold(1.0, 2401, 10.0) == pytest.approx(math.log10(1 / 7.577e9), abs=0.01)
    # a longer window means fewer independent tests and a looser threshold
    assert log10_threshold(1.0, 2401, 20.0) > log10_threshold(1.0, 2401, 10.0)


def test_tail_matches_scipy_and_is_monotonic() -> None:
    p = trigger_probability(0.2, 10.0)
    tails = [log10_tail_probability(k, 500, p) for k in range(0, 12)]
    assert tails[0] == 0.0
    assert all(a > b for a, b in itertools.pairwise(tails))
    assert tails[5] == pytest.approx(math.log10(binom.sf(4, 500, p)), rel=1e-9)


def test_background_rates_conjugate_update() -> None:
    bg = BackgroundRates.prior(0.2, 50.0)
    assert np.allclose(bg.rates(), 0.2)
    # 100 device-hours with 5 false triggers at 03:00: posterior mean (10 + 5) / (50 + 100)
    up = bg.updated(3, 5, 100.0)
    assert up.rate_per_device_hour(3) == pytest.approx(0.1)
    assert up.rate_per_device_hour(4) == pytest.approx(0.2)
    # with lots of data the posterior follows the data, not the prior
    counts = np.full(24, 1000.0)
    exposure = np.full(24, 2000.0)
    assert np.allclose(bg.updated_many(counts, exposure).rates(), 1010 / 2050)
    with pytest.raises(ValueError):
        bg.updated(3, -1, 1.0)


def test_tail_lower_bound_never_exceeds_the_exact_tail_and_is_tight() -> None:
    """The cheap bound that lets the detector skip the exact tail (reference: scipy)."""
    rng = np.random.default_rng(7)
    gaps = []
    for _ in range(5000):
        n = int(rng.integers(1, 3000))
        p = float(10 ** rng.uniform(-6, -0.01))
        k = int(rng.integers(0, min(n, int(n * p * 5 + 20)) + 1))
        exact = log10_tail_probability(k, n, p)
        if not math.isfinite(exact):
            continue  # scipy underflow: no reference
        bound = log10_tail_lower_bound(k, n, p)
        assert bound <= exact + 1e-9, (k, n, p)
        gaps.append(exact - bound)
    assert np.median(gaps) < 0.2  # decades: close enough to skip almost every exact tail
