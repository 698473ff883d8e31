"""The baselines fire on a clear earthquake and stay quiet on pure background noise."""

from __future__ import annotations

import numpy as np
import pytest

from crowdquake.domain.geodesy import haversine_km
from crowdquake.sim.baselines.common import dbscan
from crowdquake.sim.baselines.count_test import count_test_spec
from crowdquake.sim.baselines.myshake import myshake_spec
from crowdquake.sim.baselines.pyocto_baseline import pyocto_spec
from crowdquake.sim.runner import run_scenario
from crowdquake.sim.scenario import ScenarioSpec, build_scenario

from .conftest import LA, NIGHT_S

BASELINES = [myshake_spec(), count_test_spec()]


@pytest.fixture(scope="module")
def quake_scenario(la_population):
    from crowdquake.sim.catalog import Quake

    q = Quake("q-clear", NIGHT_S, 34.05, -118.25, 10.0, 5.5)
    spec = ScenarioSpec("clear", "earthquake", LA, 2e-4, NIGHT_S, quake=q)
    return build_scenario(spec, np.random.default_rng(11), la_population)


@pytest.fixture(scope="module")
def noise_scenario(la_population):
    spec = ScenarioSpec("quiet", "noise", LA, 2e-4, NIGHT_S, duration_s=4 * 3600.0)
    return build_scenario(spec, np.random.default_rng(12), la_population)


@pytest.mark.parametrize("method", BASELINES, ids=lambda m: m.name)
def test_baseline_detects_and_locates_a_clear_event(method, quake_scenario):
    run = run_scenario(method, quake_scenario)
    assert run.events, f"{method.name} missed a M5.5 under a city"
    best = max(run.events, key=lambda r: r.final.n_triggers)
    q = quake_scenario.quake
    err = float(
        haversine_km(
            best.final.hypocenter.lat_deg, best.final.hypocenter.lon_deg, q.lat_deg, q.lon_deg
        )
    )
    assert err < 30.0
    assert best.first_seen_s - q.origin_time_s < 20.0
    assert best.final.magnitude is not None
    assert abs(best.final.magnitude.magnitude - q.magnitude) < 1.5


@pytest.mark.parametrize("method", BASELINES, ids=lambda m: m.name)
def test_baseline_is_quiet_on_background_noise(method, noise_scenario):
    assert len(noise_scenario.triggers) > 100
    run = run_scenario(method, noise_scenario)
    assert run.events == []


def test_pyocto_is_skipped_with_a_note_or_runs():
    spec = pyocto_spec()
    try:
        import pyocto  # noqa: F401
    except ImportError:
        assert spec.available is not None and "bench" in spec.available
    else:
        assert spec.available is None


def test_dbscan_groups_within_eps_only():
    pts = np.array([[0.0, 0.0], [150.0, 0.0], [290.0, 0.0], [900.0, 0.0]])
    labels = dbscan(pts, 200.0, 1)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] != labels[0]
    assert list(dbscan(pts, 200.0, 3)) == [-1, 0, -1, -1] or labels[3] >= 0
