"""The in-process web-edge phase of ``crowdquake bench ingest`` runs end to end (every request a
2xx, or it raises) and reports a CPU time for each of its three requests."""

from __future__ import annotations

from crowdquake.cli.bench_ingest_edge import edge_cpu_us
from crowdquake.config import Settings


def test_edge_phase_measures_all_three_requests(settings: Settings) -> None:
    result = edge_cpu_us(settings, requests=60, rounds=1)
    assert set(result) == {"trivial", "lean", "flask"}
    assert all(value > 0 for value in result.values())
