"""The suite harness gives the same outcomes whether scenarios run in one process or many."""

from __future__ import annotations

from crowdquake.sim.harness import SuiteResult, run_suite
from crowdquake.sim.methods import all_methods


def _comparable(result: SuiteResult) -> dict[str, list[dict[str, object]]]:
    # CPU time is the only field allowed to differ between runs
    return {
        method: [{k: v for k, v in o.to_json().items() if k != "cpu_s"} for o in outcomes]
        for method, outcomes in result.outcomes.items()
    }


def test_parallel_run_equals_serial_run() -> None:
    methods = all_methods(["crowdquake", "count_test"])
    serial = run_suite("smoke", 3, methods, limit=5, jobs=1)
    parallel = run_suite("smoke", 3, methods, limit=5, jobs=2)
    assert serial.n_triggers_simulated == parallel.n_triggers_simulated > 0
    assert _comparable(serial) == _comparable(parallel)
    assert [o.scenario for o in parallel.outcomes["crowdquake"]] == [
        o.scenario for o in serial.outcomes["crowdquake"]
    ]
