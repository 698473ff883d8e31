"""Travel times against hand-computed values, and the layered table against its slow twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crowdquake.domain.traveltime import HomogeneousModel, LayeredModel


def test_homogeneous_matches_hand_values() -> None:
    m = HomogeneousModel(vp_km_s=6.1, vs_km_s=3.55)
    # 30 km epicentral, 8 km deep: hypocentral sqrt(900 + 64) = 31.048 km
    assert float(m.travel_time_s(30.0, 8.0, "P")) == pytest.approx(31.04835 / 6.1, abs=1e-4)
    assert float(m.travel_time_s(30.0, 8.0, "S")) == pytest.approx(31.04835 / 3.55, abs=1e-4)
    assert float(m.travel_time_s(0.0, 0.0, "P")) == 0.0


def test_layered_direct_and_head_wave_by_hand() -> None:
    # 20 km crust (6.0 / 3.5) over mantle (8.0 / 4.6), source 10 km deep
    m = LayeredModel((0.0, 20.0), (6.0, 8.0), (3.5, 4.6))
    # near: direct ray in the crust, sqrt(10² + 10²) / 6
    assert float(m.travel_time_s(10.0, 10.0, "P")) == pytest.approx(math.sqrt(200) / 6.0, abs=2e-3)
    # far: Pn head wave t = x/8 + (10 down to the Moho + 20 up to the surface) * eta,
    # eta = sqrt(1/36 - 1/64) (Shearer 2009, eq. 4.27, source inside the crust)
    eta = math.sqrt(1 / 36 - 1 / 64)
    assert float(m.travel_time_s(100.0, 10.0, "P")) == pytest.approx(100 / 8 + 30 * eta, abs=2e-3)
    # crossover: the head wave overtakes the direct wave between 70 and 80 km
    assert float(m.travel_time_s(70.0, 10.0, "P")) == pytest.approx(
        math.hypot(70, 10) / 6, abs=5e-3
    )
    assert float(m.travel_time_s(80.0, 10.0, "P")) < math.hypot(80, 10) / 6


def test_layered_table_agrees_with_slow_reference() -> None:
    m = LayeredModel((0.0, 4.0, 25.0), (5.5, 6.3, 8.0), (3.2, 3.6, 4.5))
    for depth in (2.0, 8.0, 15.0):
        for d in np.linspace(0.0, 300.0, 31):
            for phase in ("P", "S"):
                fast = float(m.travel_time_s(d, depth, phase))  # type: ignore[arg-type]
                slow = m.first_arrival_s(float(d), depth, phase)  # type: ignore[arg-type]
                assert fast == pytest.approx(slow, abs=0.01)


def test_layered_reduces_to_homogeneous() -> None:
    lay = LayeredModel((0.0,), (6.1,), (3.55,))
    hom = HomogeneousModel()
    d = np.array([0.0, 5.0, 50.0, 200.0])
    np.testing.assert_allclose(
        lay.travel_time_s(d, 8.0, "S"), hom.travel_time_s(d, 8.0, "S"), atol=2e-3
    )
