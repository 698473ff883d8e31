"""``crowdquake demo`` prints the first and the final estimate with their 1-sigma uncertainties
next to the catalogue truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crowdquake.cli.demo import _show
from crowdquake.cli.http_replay import HttpReplayReport
from crowdquake.services.replay import ReplayData
from crowdquake.sim.catalog import Quake


def _revision(
    t: datetime, lat: float, m: float, sd_m: float, sd_km: float, n: int
) -> dict[str, object]:
    return {
        "origin_time": t.isoformat(),
        "latitude": lat,
        "longitude": -122.31,
        "magnitude": m,
        "magnitude_uncertainty": sd_m,
        "horizontal_uncertainty_km": sd_km,
        "origin_time_uncertainty_s": 0.1,
        "n_triggers": n,
    }


def test_demo_shows_first_and_final_estimates_with_uncertainties(
    capsys: pytest.CaptureFixture[str],
) -> None:
    truth = Quake("napa", 1_408_876_838.7, 38.215, -122.312, 11.0, 6.0, "notable:South Napa")
    shift = timedelta(days=4000)
    origin = datetime.fromtimestamp(truth.origin_time_s, UTC) + shift
    first = _revision(origin, 38.233, 5.40, 0.39, 1.8, 50)
    final = _revision(origin, 38.234, 5.70, 0.30, 0.6, 2179)
    event = {
        **final,
        "detected_at": (origin + timedelta(seconds=4.2)).isoformat(),
        "revisions": [first, final],
    }
    report = HttpReplayReport(started_at=origin, shift=shift, sent=10, events=[event])
    _show(report, ReplayData([], []), truth)
    out = capsys.readouterr().out
    assert "first estimate" in out and "final estimate" in out
    assert "5.40 ± 0.39" in out and "5.70 ± 0.30" in out
    assert "-0.60 (z -1.5)" in out and "-0.30 (z -1.0)" in out
    assert "± 1.8 km" in out and "± 0.6 km" in out
    assert "first published 4.2 s after origin" in out
