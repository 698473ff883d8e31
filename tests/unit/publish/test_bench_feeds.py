"""The synthetic catalogue of ``crowdquake bench feeds`` has the distributions it documents."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from crowdquake.cli.bench_feeds import synthetic_catalogue


def test_gutenberg_richter_b_value_depths_and_statuses() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    events = synthetic_catalogue(20_000, now, seed=3)
    mags = [e["mag"] for e in events]
    # Aki (1965) maximum-likelihood b = log10(e) / (mean(M) - Mc), with Mc = 1.5 (magnitudes
    # rounded to 0.01: Utsu's half-bin correction is negligible).
    b = math.log10(math.e) / (sum(mags) / len(mags) - (1.5 - 0.005))
    assert 0.95 < b < 1.05
    assert all(1.5 <= m <= 8.5 for m in mags)
    deep = sum(e["depth"] > 40 for e in events) / len(events)
    assert 0.18 < deep < 0.22
    rejected = sum(e["status"] == "rejected" for e in events) / len(events)
    assert 0.01 < rejected < 0.03
    assert all((now - e["origin"]).days < 366 for e in events)
    assert len({e["public_id"] for e in events}) == len(events)
