"""The simulator: reproducibility and physical sanity."""

from __future__ import annotations

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.sim.catalog import notable_earthquakes, sample_gutenberg_richter, usgs_week_2018
from crowdquake.sim.groundmotion import pga_median_ms2
from crowdquake.sim.noise import background_triggers
from crowdquake.sim.population import Population, draw_steady, steady_fraction
from crowdquake.sim.scenario import ScenarioSpec, build_scenario
from crowdquake.sim.shaking import earthquake_triggers

from .conftest import LA, NIGHT_S


def _spec(kind: str = "earthquake", quake=None, lookalike=None) -> ScenarioSpec:
    return ScenarioSpec(
        "s", kind, LA, 2e-4, NIGHT_S, duration_s=1800.0, quake=quake, lookalike=lookalike
    )


def test_same_seed_same_scenario_and_different_seed_differs(clear_quake, la_population):
    a = build_scenario(_spec(quake=clear_quake), np.random.default_rng(3), la_population)
    b = build_scenario(_spec(quake=clear_quake), np.random.default_rng(3), la_population)
    c = build_scenario(_spec(quake=clear_quake), np.random.default_rng(4), la_population)
    assert len(a.triggers) == len(b.triggers) > 50
    np.testing.assert_array_equal(a.triggers.time_s, b.triggers.time_s)
    np.testing.assert_array_equal(a.triggers.device_id, b.triggers.device_id)
    np.testing.assert_array_equal(a.snapshots[0].active.lat_deg, b.snapshots[0].active.lat_deg)
    assert len(c.triggers) != len(a.triggers) or not np.array_equal(
        c.triggers.time_s, a.triggers.time_s
    )


def test_population_is_reproducible_and_follows_penetration():
    from crowdquake.sim.population import cities_within, place_phones

    # Central Italy: towns small against the region, so few phones fall past its edge.
    p1 = place_phones(np.random.default_rng(1), 42.35, 13.40, 120.0, 1e-3)
    p2 = place_phones(np.random.default_rng(1), 42.35, 13.40, 120.0, 1e-3)
    np.testing.assert_array_equal(p1.lat_deg, p2.lat_deg)
    people = sum(c.population for c in cities_within(42.35, 13.40, 120.0))
    assert 0.85 * people * 1e-3 < len(p1) <= 1.05 * people * 1e-3


def test_trigger_times_follow_seismic_moveout(clear_quake, la_population):
    rng = np.random.default_rng(0)
    steady = np.ones(len(la_population), dtype=bool)
    tab = earthquake_triggers(rng, clear_quake, la_population, steady)
    d_km = haversine_km(clear_quake.lat_deg, clear_quake.lon_deg, tab.lat_deg, tab.lon_deg)
    t_s = tab.time_s - clear_quake.origin_time_s
    is_p = tab.phase == "P"
    # Robust slope of time vs distance for P triggers beyond 20 km: slowness of ~1/6 s/km.
    far = is_p & (d_km > 20.0)
    slope_p = np.polyfit(d_km[far], t_s[far], 1)[0]
    assert 1 / 8.1 < slope_p < 1 / 5.0
    far_s = ~is_p & (d_km > 20.0)
    if far_s.sum() > 20:
        slope_s = np.polyfit(d_km[far_s], t_s[far_s], 1)[0]
        assert slope_s > slope_p
    # Received after the arrival, never before the pick.
    assert np.all(tab.received_s >= tab.time_s - la_population.clock_error_s.max() - 1e-9)


def test_stronger_quakes_trigger_more_phones_farther(la_population):
    from crowdquake.sim.catalog import Quake

    steady = np.ones(len(la_population), dtype=bool)
    far = []
    for m in (4.0, 5.0, 6.5):
        q = Quake("q", NIGHT_S, 34.05, -118.25, 10.0, m)
        tab = earthquake_triggers(np.random.default_rng(1), q, la_population, steady)
        far.append(np.percentile(haversine_km(q.lat_deg, q.lon_deg, tab.lat_deg, tab.lon_deg), 90))
    assert far[0] < far[1] < far[2]


def test_steady_fraction_by_hour_matches_myshake_and_draws():
    assert abs(float(steady_fraction(3.0)) - 0.97) < 1e-9
    assert abs(float(steady_fraction(14.0)) - 0.19) < 1e-9
    n = 20000
    pop = Population(
        tuple(str(i) for i in range(n)),
        np.zeros(n),
        np.zeros(n),
        np.ones(n),
        np.zeros(n),
        np.zeros(n),
    )
    rng = np.random.default_rng(2)
    night = draw_steady(rng, pop, 3 * 3600.0).mean()  # lon 0: local = UTC
    day = draw_steady(rng, pop, 14 * 3600.0).mean()
    assert abs(night - 0.97) < 0.01 and abs(day - 0.19) < 0.01


def test_background_rate_matches_configured_rate():
    n = 5000
    pop = Population(
        tuple(str(i) for i in range(n)),
        np.zeros(n),
        np.zeros(n),
        np.full(n, 0.1),
        np.zeros(n),
        np.zeros(n),
    )
    steady = [np.ones(n, dtype=bool)] * 6
    tab = background_triggers(
        np.random.default_rng(9), pop, 0.0, 6 * 3600.0, 0.2, steady_by_hour=steady
    )
    expected = n * 0.2 * 6
    assert abs(len(tab) - expected) < 5 * np.sqrt(expected)
    assert np.all(tab.label == "")
    # Uniform in time: each hour holds about a sixth.
    per_hour = np.histogram(tab.time_s, bins=6, range=(0, 6 * 3600.0))[0]
    assert per_hour.min() > 0.8 * expected / 6


def test_lookalikes_have_no_seismic_moveout(la_population):
    s = build_scenario(
        _spec("lookalike", lookalike="building"), np.random.default_rng(1), la_population
    )
    bld = s.triggers.label == "lookalike:building"
    assert bld.sum() >= 20
    lat, lon = s.triggers.lat_deg[bld], s.triggers.lon_deg[bld]
    assert float(haversine_km(lat.min(), lon.min(), lat.max(), lon.max())) < 0.5
    assert np.ptp(s.triggers.time_s[bld] - 0) < 3.0 + 2 * 10.0  # within 3 s up to clock error


def test_gutenberg_richter_sampler_has_b_value_one():
    m = sample_gutenberg_richter(np.random.default_rng(0), 50000, 3.5, 9.0)
    # Aki (1965) maximum-likelihood b = log10(e) / (mean(M) - Mmin).
    b = np.log10(np.e) / (m.mean() - 3.5)
    assert abs(b - 1.0) < 0.03
    assert m.min() >= 3.5 and m.max() <= 9.0


def test_simulator_gmpe_is_not_the_detector_gmpe():
    from crowdquake.domain.groundmotion import pga_median_ms2 as ba08

    ours = pga_median_ms2(5.0, np.array([10.0, 50.0]))
    theirs = ba08(5.0, np.array([10.0, 50.0]))
    assert np.all(np.abs(np.log(ours / theirs)) > 0.05)
    # Same order of magnitude as observed: M5 at 10 km ~0.05-0.2 g.
    assert 0.3 < ours[0] < 2.0


def test_catalogues_load():
    assert len(usgs_week_2018()) == 167
    names = {q.source for q in notable_earthquakes()}
    assert "notable:Ridgecrest 2019" in names
