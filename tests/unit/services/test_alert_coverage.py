"""``AlertCoverage`` (the stream server's index) answers exactly as ``forecast_for_cell``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import h3

from crowdquake.services.alerts import AlertCoverage, forecast_for_cell

SF = (37.7749, -122.4194)


def test_coverage_matches_the_reference_on_mixed_resolutions() -> None:
    rng = random.Random(7)
    base = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    centre = h3.latlng_to_cell(*SF, 7)
    cells = []
    for res, radius in ((5, 1), (7, 3), (8, 6)):  # coarse, same and finer than devices
        for cell in h3.grid_disk(
            h3.cell_to_parent(centre, res)
            if res < 7
            else (centre if res == 7 else h3.cell_to_center_child(centre, 8)),
            radius,
        ):
            if rng.random() < 0.6:
                cells.append(
                    {
                        "cell": cell,
                        "predicted_mmi": round(rng.uniform(3, 8), 1),
                        "s_arrival_time": (
                            base + timedelta(seconds=rng.uniform(1, 30))
                        ).isoformat(),
                    }
                )
    cells.append({"cell": "not-a-cell", "predicted_mmi": 9.0, "s_arrival_time": base.isoformat()})
    coverage = AlertCoverage(cells)
    devices = [
        h3.cell_to_parent(c, res) if res < 8 else c
        for c in h3.grid_disk(h3.cell_to_center_child(centre, 8), 25)
        for res in (6, 7, 8)
    ]
    hits = 0
    for device_cell in devices:
        expected = forecast_for_cell(device_cell, cells)
        assert coverage.forecast(device_cell) == expected, device_cell
        hits += expected is not None
    assert 0 < hits < len(devices)  # both cases occur
