"""Run a suite: build each scenario once, stream it through every method, score, aggregate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from crowdquake.sim.methods import MethodSpec, all_methods
from crowdquake.sim.metrics import Outcome, aggregate, score
from crowdquake.sim.population import Population, place_phones
from crowdquake.sim.runner import MethodRun, run_scenario
from crowdquake.sim.scenario import Scenario, ScenarioSpec, build_scenario
from crowdquake.sim.suites import SUITES, Suite

ProgressFn = Callable[[int, ScenarioSpec], None]


@dataclass
class SuiteResult:
    suite: str
    seed: int
    methods: list[str]
    skipped: dict[str, str]
    subset_notes: dict[str, str]
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    # (method, scenario, exception text) of every run that raised; it counts as a miss.
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    wall_s: float = 0.0
    n_triggers_simulated: int = 0

    def metrics(self) -> dict[str, dict[str, object]]:
        return {m: aggregate(self.outcomes.get(m, [])) for m in self.methods}


class PopulationCache:
    """One phone population per (region, penetration), reproducible from the suite seed."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._cache: dict[tuple[str, float], Population] = {}

    def get(self, spec: ScenarioSpec) -> Population:
        key = (spec.region.name, spec.penetration)
        if key not in self._cache:
            digest = [ord(c) for c in spec.region.name]
            rng = np.random.default_rng([self._seed, 7, int(spec.penetration * 1e6), *digest])
            r = spec.region
            self._cache[key] = place_phones(
                rng, r.lat_deg, r.lon_deg, r.radius_km, spec.penetration
            )
            # Real-catalogue regions are used once: do not keep their phones around.
            if spec.region.name.startswith("real:"):
                return self._cache.pop(key)
        return self._cache[key]


def build_suite_scenario(
    suite_seed: int, index: int, spec: ScenarioSpec, cache: PopulationCache
) -> Scenario:
    rng = np.random.default_rng([suite_seed, 11, index])
    return build_scenario(spec, rng, cache.get(spec))


def run_suite(
    name: str,
    seed: int,
    methods: Sequence[MethodSpec] | None = None,
    progress: ProgressFn | None = None,
    limit: int | None = None,
) -> SuiteResult:
    suite: Suite = SUITES[name](seed)
    specs = list(suite.specs)[:limit] if limit else list(suite.specs)
    methods = list(methods) if methods is not None else all_methods()
    runnable = [m for m in methods if m.available is None]
    result = SuiteResult(
        name,
        seed,
        [m.name for m in runnable],
        {m.name: m.available for m in methods if m.available is not None},
        {k: v for k, v in suite.subset_notes.items() if k in {m.name for m in runnable}},
    )
    cache = PopulationCache(seed)
    t0 = time.perf_counter()
    for i, spec in enumerate(specs):
        scenario = build_suite_scenario(seed, i, spec, cache)
        result.n_triggers_simulated += len(scenario.triggers)
        for m in runnable:
            subset = suite.subsets.get(m.name)
            if subset is not None and not subset(spec):
                continue
            try:
                run = run_scenario(m, scenario)
            except Exception as exc:  # a crashing method must not stop the comparison
                result.errors.append((m.name, spec.name, f"{type(exc).__name__}: {exc}"))
                run = MethodRun(m.name, spec.name, n_triggers=len(scenario.triggers))
            result.outcomes.setdefault(m.name, []).append(score(run, scenario))
        if progress is not None:
            progress(i, spec)
    result.wall_s = time.perf_counter() - t0
    return result
