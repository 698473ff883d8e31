"""Alert decisions, intensity conversion, projections and region keys."""

from __future__ import annotations

import numpy as np
import pytest

from crowdquake.domain.alerting import alert_radius_km, decide_alerts, predicted_mmi
from crowdquake.domain.cells import cell_center, cell_of, region_key, region_keys_with_margin
from crowdquake.domain.geodesy import LocalProjection, haversine_km
from crowdquake.domain.groundmotion import G_MS2, mmi_from_pga, pga_from_mmi
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import Hypocenter, MagnitudeEstimate

P = DetectionParams()


def test_alert_levels_and_warning_times() -> None:
    hypo = Hypocenter(origin_time_s=1000.0, lat_deg=35.0, lon_deg=-118.0, depth_km=8.0)
    now = 1005.0
    decision = decide_alerts(hypo, MagnitudeEstimate(6.0, 0.2), now, P)
    assert decision.cells
    for c in decision.cells:
        lat, lon = cell_center(c.cell)
        d = float(haversine_km(35.0, -118.0, lat, lon))
        mmi = float(predicted_mmi(6.0, np.array([d]), P)[0])
        assert c.predicted_mmi == pytest.approx(mmi, abs=0.01)
        assert c.level == ("take_action" if mmi >= 5.0 else "be_aware")
        assert mmi >= 3.0
        # warning = S arrival - now; negative near the source where S already passed
        expected = 1000.0 + np.hypot(d, 8.0) / P.vs_km_s - now
        assert c.warning_time_s == pytest.approx(expected, abs=0.01)
    near = min(decision.cells, key=lambda c: c.warning_time_s)
    assert near.warning_time_s < 0 and near.level == "take_action"
    assert decision.by_level("be_aware") and decision.by_level("take_action")
    radius = alert_radius_km(6.0, P)
    far = max(float(haversine_km(35.0, -118.0, *cell_center(c.cell))) for c in decision.cells)
    assert far <= radius + 20.0


def test_alerts_restricted_to_given_cells_and_small_events_warn_nobody() -> None:
    hypo = Hypocenter(origin_time_s=0.0, lat_deg=35.0, lon_deg=-118.0, depth_km=8.0)
    cells = [cell_of(35.0, -118.0, 7), cell_of(37.0, -118.0, 7)]  # at the source, 222 km away
    d = decide_alerts(hypo, MagnitudeEstimate(5.5, 0.2), 0.0, P, cells=cells)
    assert [c.cell for c in d.cells] == [cells[0]]
    assert decide_alerts(hypo, MagnitudeEstimate(2.0, 0.2), 0.0, P).cells == ()


def test_worden_conversion_round_trip_and_branches() -> None:
    pga = np.array([0.005, 0.02, 0.1, 0.5]) * G_MS2
    np.testing.assert_allclose(pga_from_mmi(mmi_from_pga(pga)), pga, rtol=1e-9)
    # the two branches meet at log10(PGA cm/s²) = 1.57, MMI 4.2335
    assert float(mmi_from_pga(10**1.57 / 100.0)) == pytest.approx(1.78 + 1.55 * 1.57)


def test_projection_round_trip_and_distances() -> None:
    proj = LocalProjection(-33.4, -70.6)
    rng = np.random.default_rng(0)
    lat = -33.4 + rng.uniform(-2, 2, 50)
    lon = -70.6 + rng.uniform(-2, 2, 50)
    x, y = proj.forward(lat, lon)
    la, lo = proj.inverse(x, y)
    np.testing.assert_allclose(la, lat, atol=1e-9)
    np.testing.assert_allclose(lo, lon, atol=1e-9)
    np.testing.assert_allclose(np.hypot(x, y), haversine_km(-33.4, -70.6, lat, lon), rtol=1e-9)


def test_region_keys_with_margin_cover_nearby_points() -> None:
    lat0, lon0 = 37.87, -122.27
    keys = region_keys_with_margin(lat0, lon0, 60.0)
    assert region_key(lat0, lon0) in keys
    proj = LocalProjection(lat0, lon0)
    for bearing in np.linspace(0, 2 * np.pi, 36, endpoint=False):
        lat, lon = proj.inverse(55.0 * np.sin(bearing), 55.0 * np.cos(bearing))
        assert region_key(float(lat), float(lon)) in keys
    assert region_keys_with_margin(lat0, lon0, 0.0) == {region_key(lat0, lon0)}
