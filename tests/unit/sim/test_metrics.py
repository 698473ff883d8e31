"""Metrics on hand-made cases where the right answer is known."""

from __future__ import annotations

import math

import numpy as np

from crowdquake.domain.types import (
    ActiveDevices,
    EventEstimate,
    Hypocenter,
    MagnitudeEstimate,
    TriggerAssociation,
)
from crowdquake.sim.catalog import Quake
from crowdquake.sim.metrics import aggregate, score
from crowdquake.sim.runner import EventRecord, MethodRun
from crowdquake.sim.scenario import Region, Scenario, ScenarioSpec, Snapshot
from crowdquake.sim.triggertable import TriggerTable

REGION = Region("r", 0.0, 0.0)
T0 = 1_000_000.0


def _table(labels: list[str], received: list[float]) -> TriggerTable:
    n = len(labels)
    z = np.zeros(n)
    return TriggerTable(
        np.array([f"d{i}" for i in range(n)], dtype=object),
        np.array(received) - 1.0,
        np.array(received),
        z,
        z,
        z + 0.1,
        np.array(labels, dtype=object),
        np.full(n, "P", dtype=object),
    )


def _scenario(kind: str, labels: list[str], received: list[float], quake: Quake | None) -> Scenario:
    spec = ScenarioSpec("sc", kind, REGION, 1e-3, T0, duration_s=86400.0 / 2, quake=quake)
    snap = Snapshot(T0, ActiveDevices.empty(), np.zeros(0))
    end = T0 + (150.0 if quake else 43200.0)
    return Scenario(
        spec, T0 - 30.0 if quake else T0, end, _table(labels, received), (snap,), detectable=True
    )


def _est(key: str, lat: float, t0: float, mag: float, rows: list[int]) -> EventEstimate:
    return EventEstimate(
        key,
        Hypocenter(t0, lat, 0.0, 10.0),
        MagnitudeEstimate(mag, 0.2),
        tuple(TriggerAssociation(f"sc-{r}", "P", 0.0) for r in rows),
        10,
        -9.0,
        0.0,
        True,
        "m",
    )


def test_scoring_of_a_detected_quake_and_a_false_event():
    q = Quake("Q", T0, 0.0, 0.0, 10.0, 5.0)
    labels = ["Q"] * 6 + ["", ""]
    received = [T0 + 3.0, T0 + 3.5, T0 + 4.0, T0 + 4.2, T0 + 5.0, T0 + 6.0, T0 + 1.0, T0 + 2.0]
    sc = _scenario("earthquake", labels, received, q)
    assert sc.physical_limit_s() == T0 + 4.2
    # 0.09 deg of latitude = 10.0 km; final 0.018 deg = 2.0 km.
    first = _est("a", 0.09, T0 + 1.0, 4.6, [0, 1, 2, 3])
    final = _est("a", 0.018, T0 - 0.5, 5.1, [0, 1, 2, 3, 4, 5, 6])
    false = _est("b", 1.0, T0, 3.0, [6, 7])
    run = MethodRun(
        "m",
        "sc",
        [EventRecord("a", T0 + 5.0, first, final), EventRecord("b", T0 + 8.0, false, false)],
        8,
        0.004,
        [1.0, 3.0],
    )
    o = score(run, sc)
    assert o.detected and o.n_false == 1
    assert math.isclose(o.delay_s, 5.0)
    assert math.isclose(o.delay_over_limit_s, 0.8, abs_tol=1e-9)
    assert math.isclose(o.first_epicentre_km, 10.0, rel_tol=2e-3)
    assert math.isclose(o.final_epicentre_km, 2.0, rel_tol=2e-3)
    assert math.isclose(o.origin_time_error_s, -0.5)
    assert math.isclose(o.first_dm, 0.4, abs_tol=1e-9) and math.isclose(
        o.final_dm, 0.1, abs_tol=1e-9
    )


def test_an_event_made_of_noise_does_not_count_as_detection():
    q = Quake("Q", T0, 0.0, 0.0, 10.0, 4.0)
    sc = _scenario("earthquake", ["Q", "", "", ""], [T0 + 3, T0 + 1, T0 + 2, T0 + 3], q)
    bogus = _est("x", 0.0, T0, 4.0, [0, 1, 2, 3])  # 1 of 4 genuine: below half
    o = score(MethodRun("m", "sc", [EventRecord("x", T0 + 4, bogus, bogus)]), sc)
    assert not o.detected and o.n_false == 1


def test_aggregate_rates_and_false_events_per_region_day():
    q = Quake("Q", T0, 0.0, 0.0, 10.0, 5.0)
    eq = _scenario("earthquake", ["Q"] * 4, [T0 + 2, T0 + 3, T0 + 4, T0 + 5], q)
    hit = _est("a", 0.0, T0, 5.0, [0, 1, 2, 3])
    o1 = score(MethodRun("m", "sc", [EventRecord("a", T0 + 6, hit, hit)], 4, 0.001, [2.0]), eq)
    o2 = score(MethodRun("m", "sc", [], 4, 0.001, [1.0]), eq)  # a miss
    noise = _scenario("noise", ["", ""], [T0 + 10, T0 + 20], None)
    fe = _est("n", 0.0, T0, 3.0, [0, 1])
    o3 = score(MethodRun("m", "sc", [EventRecord("n", T0 + 30, fe, fe)], 2, 0.0, [1.0]), noise)
    agg = aggregate([o1, o2, o3])
    assert agg["detection_rate_m_ge_4_5"] == {"detected": 1, "total": 2, "rate": 0.5}
    assert math.isclose(agg["region_days"], 0.5)
    assert math.isclose(agg["false_events_per_region_day"], 2.0)
    assert math.isclose(agg["cpu_ms_per_1000_triggers"], 1e6 * 0.002 / 10)
    assert agg["delay_s"]["median"] == 6.0


def test_assignment_f1_on_hand_made_assignments():
    from crowdquake.sim.assocbench import assignment_f1

    truth = ["q", "q", "q", "q", "", ""]
    assert assignment_f1(truth, ["e", "e", "e", "e", None, None]) == 1.0
    # One genuine missed, one noise absorbed: TP 3, FP 1, FN 1 -> 6 / 8.
    assert assignment_f1(truth, ["e", "e", "e", None, "e", None]) == 0.75
    # Two quakes merged into one event: the second quake's triggers are false positives.
    two = ["a", "a", "a", "b", "b"]
    assert abs(assignment_f1(two, ["e"] * 5) - 2 * 3 / (2 * 3 + 2 + 2)) < 1e-12
    assert assignment_f1(truth, [None] * 6) == 0.0
