"""Location recovers known sources; soft_l1 shrugs off clock outliers; silence pushes away."""

from __future__ import annotations

import numpy as np
import pytest

from crowdquake.domain.location import SilentCells, grid_search, locate
from crowdquake.domain.traveltime import HomogeneousModel, LayeredModel

MODEL = HomogeneousModel()


def _stations(rng: np.random.Generator, n: int, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
    r = radius_km * np.sqrt(rng.random(n))
    th = rng.random(n) * 2 * np.pi
    return r * np.cos(th), r * np.sin(th)


@pytest.mark.parametrize("source", [(3.0, -4.0), (-12.0, 7.5), (20.0, 18.0)])
def test_noise_free_triggers_locate_to_within_100_m(source: tuple[float, float]) -> None:
    rng = np.random.default_rng(1)
    x, y = _stations(rng, 40, 40.0)
    t0 = 1000.0
    d = np.hypot(x - source[0], y - source[1])
    # near phones trigger on P, farther ones on S: the locator must pick phases itself
    phase_p = d < 20.0
    t = t0 + np.where(phase_p, MODEL.travel_time_s(d, 8.0, "P"), MODEL.travel_time_s(d, 8.0, "S"))
    g = grid_search(
        x,
        y,
        t,
        MODEL,
        depth_km=8.0,
        tolerance_s=1.0,
        center_km=(0.0, 0.0),
        half_width_km=60.0,
        n_side=41,
    )
    assert g.n_consistent == 40
    sol = locate(x, y, t, MODEL, depth_km=8.0, start=(g.x_km, g.y_km, g.origin_time_s))
    assert np.hypot(sol.x_km - source[0], sol.y_km - source[1]) < 0.1
    assert sol.origin_time_s == pytest.approx(t0, abs=0.02)
    assert sol.phases == tuple("P" if p else "S" for p in phase_p)


def test_free_depth_and_layered_model() -> None:
    model = LayeredModel((0.0, 20.0), (6.0, 8.0), (3.5, 4.6))
    rng = np.random.default_rng(2)
    x, y = _stations(rng, 60, 30.0)
    d = np.hypot(x - 2.0, y + 3.0)
    t = 50.0 + model.travel_time_s(d, 12.0, "P")
    g = grid_search(
        x,
        y,
        t,
        model,
        depth_km=8.0,
        tolerance_s=1.0,
        center_km=(0.0, 0.0),
        half_width_km=40.0,
        n_side=41,
    )
    sol = locate(
        x, y, t, model, depth_km=8.0, start=(g.x_km, g.y_km, g.origin_time_s), free_depth=True
    )
    assert np.hypot(sol.x_km - 2.0, sol.y_km + 3.0) < 0.1
    assert sol.depth_km == pytest.approx(12.0, abs=0.3)
    assert not sol.depth_fixed


def test_robust_to_clock_outliers_and_reports_uncertainty() -> None:
    rng = np.random.default_rng(3)
    x, y = _stations(rng, 80, 30.0)
    d = np.hypot(x - 5.0, y - 5.0)
    t = 10.0 + MODEL.travel_time_s(d, 8.0, "P") + rng.normal(0, 0.5, d.size)
    t[:8] += rng.uniform(5.0, 30.0, 8)  # 10% phones with bad clocks
    g = grid_search(
        x,
        y,
        t,
        MODEL,
        depth_km=8.0,
        tolerance_s=1.5,
        center_km=(0.0, 0.0),
        half_width_km=40.0,
        n_side=41,
    )
    sol = locate(x, y, t, MODEL, depth_km=8.0, start=(g.x_km, g.y_km, g.origin_time_s))
    err = np.hypot(sol.x_km - 5.0, sol.y_km - 5.0)
    assert err < 2.0
    # the reported 1-sigma is of the right size: the error is within 4 sigma
    assert 0.05 < sol.horizontal_uncertainty_km < 5.0
    assert err < 4 * sol.horizontal_uncertainty_km + 0.5


def test_silent_phones_push_the_source_away() -> None:
    """Triggers on a straight line cannot tell a source from its mirror image; phones that
    stayed silent around the mirror although the wave passed them must decide."""
    x = np.linspace(-20.0, 20.0, 9)
    y = np.zeros(9)
    true = (0.0, 10.0)
    d = np.hypot(x - true[0], y - true[1])
    t = 100.0 + MODEL.travel_time_s(d, 8.0, "P")
    phases = ("P",) * 9
    mirror = (0.0, -10.0)
    # 3 cells of 10 silent phones around the mirror source, P long past at now_s
    sx = np.array([mirror[0] + 1.0, mirror[0] - 1.0, mirror[0]])
    sy = np.array([mirror[1], mirror[1], mirror[1] - 1.0])
    silent = SilentCells(sx, sy, np.full(3, 10.0), np.full(3, 0.5))
    args = {
        "depth_km": 8.0,
        "tolerance_s": 1.0,
        "center_km": (0.0, 0.0),
        "half_width_km": 30.0,
        "n_side": 31,
    }
    blind = grid_search(x, y, t, MODEL, **args)  # type: ignore[arg-type]
    seen = grid_search(
        x,
        y,
        t,
        MODEL,
        silent=silent,
        now_s=110.0,  # type: ignore[arg-type]
        prob_at_km=lambda d: 0.5 * np.exp(-d / 5.0),
        **args,
    )
    assert blind.y_km < 0  # the mirror wins a tie it cannot see (first node in grid order)
    assert seen.y_km > 0
    sol = locate(
        x,
        y,
        t,
        MODEL,
        depth_km=8.0,
        start=(seen.x_km, seen.y_km, seen.origin_time_s),
        phases=phases,
        silent=silent,
        now_s=110.0,
    )
    assert np.hypot(sol.x_km - true[0], sol.y_km - true[1]) < 0.1
