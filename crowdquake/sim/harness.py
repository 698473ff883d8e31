"""Run a suite: build each scenario once, stream it through every method, score, aggregate."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
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
    jobs: int = 1,
    kinds: frozenset[str] | None = None,
    every: int = 1,
) -> SuiteResult:
    """Run every scenario of the suite through every method; ``jobs`` > 1 spreads scenarios
    over that many processes (each rebuilds its populations from the seed, so the result is
    the same as with one process). ``limit``, ``kinds`` and ``every`` select scenarios
    (``select_indices``); a selected scenario is the same as in the whole suite."""
    suite: Suite = SUITES[name](seed)
    indices = select_indices(suite, limit, kinds, every)
    specs = [suite.specs[i] for i in indices]
    methods = list(methods) if methods is not None else all_methods()
    runnable = [m for m in methods if m.available is None]
    result = SuiteResult(
        name,
        seed,
        [m.name for m in runnable],
        {m.name: m.available for m in methods if m.available is not None},
        {k: v for k, v in suite.subset_notes.items() if k in {m.name for m in runnable}},
    )
    t0 = time.perf_counter()
    done: dict[int, ScenarioRun] = {}
    if jobs <= 1:
        _init_worker(name, seed, runnable)
        try:
            for i in range(len(specs)):
                done[i] = _run_index(indices[i])
                if progress is not None:
                    progress(i, specs[i])
        finally:
            _STATE.clear()  # release the populations once the run is over
    else:
        ctx = multiprocessing.get_context("spawn")  # no forked copies of caches or threads
        with ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_init_worker, initargs=(name, seed, runnable)
        ) as pool:
            futures = {pool.submit(_run_index, indices[i]): i for i in range(len(specs))}
            for n_done, future in enumerate(as_completed(futures)):
                i = futures[future]
                done[i] = future.result()
                if progress is not None:
                    progress(n_done, specs[i])
    for i in range(len(specs)):
        run = done[i]
        result.n_triggers_simulated += run.n_triggers
        for method, outcome in run.outcomes:
            result.outcomes.setdefault(method, []).append(outcome)
        result.errors.extend(run.errors)
    result.wall_s = time.perf_counter() - t0
    return result


def select_indices(
    suite: Suite, limit: int | None = None, kinds: frozenset[str] | None = None, every: int = 1
) -> list[int]:
    """Suite indices run: the first ``limit``, of these ``kinds`` (earthquake, noise,
    lookalike), then every ``every``-th of those (a systematic sample across regions,
    penetrations and magnitude bands, in suite order)."""
    indices = list(range(len(suite.specs)))
    if limit:
        indices = indices[:limit]
    if kinds:
        indices = [i for i in indices if suite.specs[i].kind in kinds]
    return indices[:: max(every, 1)]


@dataclass
class ScenarioRun:
    """What one scenario gave: each method's outcome (in method order) and any crashes."""

    n_triggers: int
    outcomes: list[tuple[str, Outcome]]
    errors: list[tuple[str, str, str]]


@dataclass
class _WorkerState:
    suite: Suite
    seed: int
    methods: list[MethodSpec]
    cache: PopulationCache


# The suite, methods and phone populations of this process, built once by the pool's
# initializer (rebuilding populations per scenario would dominate the run).
_STATE: list[_WorkerState] = []


def _init_worker(name: str, seed: int, methods: list[MethodSpec]) -> None:
    _STATE[:] = [_WorkerState(SUITES[name](seed), seed, methods, PopulationCache(seed))]


def _run_index(index: int) -> ScenarioRun:
    state = _STATE[0]
    spec = state.suite.specs[index]
    scenario = build_suite_scenario(state.seed, index, spec, state.cache)
    out = ScenarioRun(len(scenario.triggers), [], [])
    for m in state.methods:
        subset = state.suite.subsets.get(m.name)
        if subset is not None and not subset(spec):
            continue
        try:
            run = run_scenario(m, scenario)
        except Exception as exc:  # a crashing method must not stop the comparison
            out.errors.append((m.name, spec.name, f"{type(exc).__name__}: {exc}"))
            run = MethodRun(m.name, spec.name, n_triggers=len(scenario.triggers))
        out.outcomes.append((m.name, score(run, scenario)))
    return out
