"""The attack suite: smallest number of fake phones k that fools each method.

Every scenario (``attacks``) is streamed in 0.5 s batches through a fresh instance of each
method; after every batch each changed estimate is judged as the services would:

* *event*: an event whose associations are at least half fake (``inflate``: an event whose
  magnitude exceeds by >= ``INFLATION`` the largest magnitude the same method gave the same
  real earthquake without fake phones, and likewise for alerts: the attack's own effect);
* *public*: such an event that is not held (ours holds events, ``domain.evidence``; the
  baselines publish every event);
* *alert* / *take_action*: a confirmed (>= 8 triggers, as the services) and not held estimate
  whose alert decision (``domain.alerting``, with ours' alert magnitude, the baselines'
  magnitude) warns at least one cell at any level / at ``take_action``.

For each attack x background x time of day x method, the smallest k of the grid with an
outcome is reported per seed and as the minimum over seeds; ``monotonic`` says whether every
larger k of that seed that was run also had the outcome. The honest city of one attack x
background x time of day x seed is simulated once for all k, and a method's sweep over k stops
after ``STOP_AFTER`` consecutive k with every outcome (more fake phones only add evidence).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from crowdquake.domain.alerting import decide_alerts
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import EventEstimate, MagnitudeEstimate
from crowdquake.sim.attacks import (
    ATTACK_LABEL,
    ATTACKS,
    AttackScenario,
    build_attack,
    build_city,
    default_spec,
)

K_GRID = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
BACKGROUNDS = (0, 2000, 20000)
OUTCOMES = ("event", "public", "alert", "take_action")
METHODS = ("crowdquake", "count_test", "myshake2020")
INFLATION = 0.5
CONFIRM_MIN_TRIGGERS = 8
STOP_AFTER = 2  # consecutive k with every outcome end a method's sweep (``_task``)


@dataclass
class RunResult:
    attack: str
    n_honest: int
    night: bool
    seed: int
    k: int
    method: str
    event: bool = False
    public: bool = False
    alert: bool = False
    take_action: bool = False
    max_alert_magnitude: float | None = None
    max_event_magnitude: float | None = None  # largest magnitude of any event (inflate)
    hold_reasons: list[str] = field(default_factory=list)


def _method(name: str) -> Any:
    if name == "crowdquake":
        from crowdquake.domain.detector import StreamingDetector

        return StreamingDetector(DetectionParams())
    if name == "count_test":
        from crowdquake.sim.baselines.count_test import CountTest

        return CountTest()
    from crowdquake.sim.baselines.myshake import MyShake2020

    return MyShake2020()


def run_attack(
    scenario: AttackScenario, method: str, reference: RunResult | None = None
) -> RunResult:
    """Stream one scenario through one method and judge every estimate (module doc).

    ``reference``: the same method's run without fake phones (``inflate`` only)."""
    spec = scenario.spec
    res = RunResult(spec.attack, spec.n_honest, spec.night, spec.seed, spec.k, method)
    inst = _method(method)
    if method == "crowdquake":
        inst.set_device_profiles(scenario.profiles)
    inst.set_active_devices(scenario.active)
    tab = scenario.triggers
    fake_rows = {i for i, lab in enumerate(tab.label.tolist()) if lab == ATTACK_LABEL}
    params = DetectionParams()
    batch_s = 0.5
    i = 0
    n = len(tab)
    t = scenario.start_s
    while t < scenario.end_s:
        t += batch_s
        j = i
        while j < n and tab.received_s[j] <= t:
            j += 1
        trig = tab.to_triggers(i, j, scenario.name) if j > i else []
        i = j
        if not trig and t < scenario.end_s and int(t / batch_s) % 10:
            continue  # empty batches: update every 5 s only (expiry, silent phones)
        for est in inst.update(trig, t):
            _judge(res, est, scenario, fake_rows, params, t, reference)
    return res


def _judge(
    res: RunResult,
    est: EventEstimate,
    scenario: AttackScenario,
    fake_rows: set[int],
    params: DetectionParams,
    now_s: float,
    reference: RunResult | None,
) -> None:
    if est.merged_into is not None or not est.associations:
        return
    m_est = est.magnitude.magnitude if est.magnitude is not None else None
    prefix = scenario.name + "-"
    n_fake = sum(1 for a in est.associations if int(a.trigger_id[len(prefix) :]) in fake_rows)
    quake = scenario.quake
    trust = est.trust
    held = trust is not None and trust.held
    if trust is not None:
        alert_m = trust.alert_magnitude
    else:
        alert_m = est.magnitude.magnitude if est.magnitude is not None else None
    if m_est is not None:
        res.max_event_magnitude = max(res.max_event_magnitude or -math.inf, m_est)
    if quake is not None:
        if reference is None:  # this is the reference run: record, judge nothing
            if not held and alert_m is not None and est.n_triggers >= CONFIRM_MIN_TRIGGERS:
                res.max_alert_magnitude = max(res.max_alert_magnitude or -math.inf, alert_m)
            return
        ref_event = reference.max_event_magnitude or -math.inf
        ref_alert = reference.max_alert_magnitude or -math.inf
        is_false = m_est is not None and m_est >= ref_event + INFLATION
        alert_false = alert_m is not None and alert_m >= ref_alert + INFLATION
    else:
        is_false = n_fake >= 0.5 * len(est.associations)
        alert_false = is_false
    if not is_false:
        return
    res.event = True
    if held:
        if trust is not None and trust.hold_reason not in res.hold_reasons:
            res.hold_reasons.append(trust.hold_reason or "")
        return
    res.public = True
    if not alert_false or alert_m is None or est.n_triggers < CONFIRM_MIN_TRIGGERS:
        return
    decision = decide_alerts(est.hypocenter, MagnitudeEstimate(alert_m, 0.0), now_s, params)
    if decision.cells:
        res.alert = True
        res.max_alert_magnitude = max(res.max_alert_magnitude or -math.inf, alert_m)
    if decision.by_level("take_action"):
        res.take_action = True


def _hit_all(r: RunResult) -> bool:
    return all(getattr(r, o) for o in OUTCOMES)


def _task(args: tuple[str, int, bool, int, tuple[str, ...], tuple[int, ...]]) -> list[RunResult]:
    """Every k of one attack x background x time of day x seed, every method.

    The honest city (phones, profiles, background, the real earthquake) is built once and
    shared by every k; a method's sweep stops after ``STOP_AFTER`` consecutive k of the
    grid with every outcome (larger k only add fake evidence: they are not run, and their
    monotonicity is not checked)."""
    attack, n_honest, night, seed, methods, k_grid = args
    city = build_city(default_spec(attack, n_honest, 0, night, seed))
    refs: dict[str, RunResult] = {}
    if city.quake is not None:
        base = build_attack(default_spec(attack, n_honest, 0, night, seed), city)
        refs = {m: run_attack(base, m) for m in methods}
    # the references (k = 0: the real earthquake alone) are kept: did each method alert it?
    runs: list[RunResult] = list(refs.values())
    streak = dict.fromkeys(methods, 0)
    for k in sorted(k_grid):
        todo = [m for m in methods if streak[m] < STOP_AFTER]
        if not todo:
            break
        scenario = build_attack(default_spec(attack, n_honest, k, night, seed), city)
        for m in todo:
            r = run_attack(scenario, m, refs.get(m))
            runs.append(r)
            streak[m] = streak[m] + 1 if _hit_all(r) else 0
    return runs


@dataclass
class AttackSuiteResult:
    seeds: list[int]
    k_grid: list[int]
    backgrounds: list[int]
    attacks: list[str]
    methods: list[str]
    runs: list[RunResult]
    wall_s: float = 0.0

    def smallest_k(self) -> list[dict[str, Any]]:
        """One row per attack x background x time of day x method: smallest k per outcome."""
        rows = []
        keyed: dict[tuple[str, int, bool, str], list[RunResult]] = {}
        for r in self.runs:
            keyed.setdefault((r.attack, r.n_honest, r.night, r.method), []).append(r)
        for (attack, n_honest, night, method), runs in sorted(keyed.items()):
            row: dict[str, Any] = {
                "attack": attack,
                "n_honest": n_honest,
                "night": night,
                "method": method,
            }
            for outcome in OUTCOMES:
                per_seed = []
                monotonic = True
                for seed in self.seeds:
                    hits = sorted((r.k, getattr(r, outcome)) for r in runs if r.seed == seed)
                    first = next((k for k, hit in hits if hit), None)
                    per_seed.append(first)
                    if first is not None and not all(hit for k, hit in hits if k >= first):
                        monotonic = False
                found = [k for k in per_seed if k is not None]
                row[outcome] = min(found) if found else None
                row[f"{outcome}_per_seed"] = per_seed
                row[f"{outcome}_monotonic"] = monotonic
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": "attacks",
            "seeds": self.seeds,
            "k_grid": self.k_grid,
            "backgrounds": self.backgrounds,
            "attacks": self.attacks,
            "methods": self.methods,
            "wall_s": self.wall_s,
            "smallest_k": self.smallest_k(),
            "runs": [asdict(r) for r in self.runs],
        }


def run_attack_suite(
    seeds: Sequence[int],
    *,
    k_grid: Sequence[int] = K_GRID,
    backgrounds: Sequence[int] = BACKGROUNDS,
    attacks: Sequence[str] = ATTACKS,
    methods: Sequence[str] = METHODS,
    nights: Sequence[bool] = (False, True),
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    on_task: Callable[[list[RunResult]], None] | None = None,
) -> AttackSuiteResult:
    """Run the grid (module doc). ``on_task`` gets the runs of every finished task (one
    attack x background x time of day x seed), e.g. to save them before the whole grid ends."""
    import time

    # seed by seed (a cut-short run has whole seeds), the costliest (most honest phones)
    # first within a seed, so that no long task starts last
    tasks = sorted(
        (
            (a, b, night, s, tuple(methods), tuple(k_grid))
            for s in seeds
            for a in attacks
            for b in backgrounds
            for night in nights
        ),
        key=lambda t: (t[3], -t[1]),
    )
    t0 = time.perf_counter()
    runs: list[RunResult] = []
    if jobs <= 1:
        for i, task in enumerate(tasks):
            out = _task(task)
            runs.extend(out)
            if on_task is not None:
                on_task(out)
            if progress is not None:
                progress(i + 1, len(tasks))
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_task, task) for task in tasks]
            for i, fut in enumerate(as_completed(futures)):
                out = fut.result()
                runs.extend(out)
                if on_task is not None:
                    on_task(out)
                if progress is not None:
                    progress(i + 1, len(tasks))
    runs.sort(key=lambda r: (r.attack, r.n_honest, r.night, r.seed, r.k, r.method))
    return AttackSuiteResult(
        list(seeds),
        list(k_grid),
        list(backgrounds),
        list(attacks),
        list(methods),
        runs,
        time.perf_counter() - t0,
    )


def result_from_runs(runs: Sequence[RunResult], k_grid: Sequence[int]) -> AttackSuiteResult:
    """The result of the runs a grid saved (``on_task``), e.g. one cut short: its seeds,
    backgrounds, attacks and methods are the ones present in ``runs``."""
    return AttackSuiteResult(
        sorted({r.seed for r in runs}),
        list(k_grid),
        sorted({r.n_honest for r in runs}),
        [a for a in ATTACKS if any(r.attack == a for r in runs)],
        [m for m in METHODS if any(r.method == m for r in runs)],
        sorted(runs, key=lambda r: (r.attack, r.n_honest, r.night, r.seed, r.k, r.method)),
    )


def _fmt(k: int | None, monotonic: bool) -> str:
    s = "none" if k is None else str(k)
    return s if monotonic else s + "*"


def table(result: AttackSuiteResult) -> str:
    """Smallest k per attack x background (day / night): ours vs the baselines."""
    k_max = max(result.k_grid)
    lines = [
        f"smallest k fake phones (grid up to {k_max}, min over seeds {result.seeds}; "
        "'none' = not up to the grid's end, * = not monotonic in k for some seed)",
        "event / public (not held) / alert / take_action",
        "",
    ]
    head = f"{'attack':<13} {'honest':>6} {'time':<5} " + " ".join(
        f"{m:<27}" for m in result.methods
    )
    lines.append(head)
    by = {(r["attack"], r["n_honest"], r["night"], r["method"]): r for r in result.smallest_k()}
    for a in result.attacks:
        for b in result.backgrounds:
            for night in sorted({r.night for r in result.runs}):
                cells = []
                for m in result.methods:
                    r = by.get((a, b, night, m))
                    if r is None:
                        cells.append(f"{'-':<27}")
                        continue
                    txt = " / ".join(_fmt(r[o], r[f"{o}_monotonic"]) for o in OUTCOMES)
                    cells.append(f"{txt:<27}")
                tod = "night" if night else "day"
                lines.append(f"{a:<13} {b:>6} {tod:<5} " + " ".join(cells))
    refs = [r for r in result.runs if r.k == 0]
    if refs:
        lines += ["", "the real M4.0 of 'inflate' without fake phones: largest alert magnitude"]
        lines.append("(none: not alerted; per seed)")
        for b in result.backgrounds:
            for night in sorted({r.night for r in refs}):
                cells = []
                for m in result.methods:
                    mags = [
                        "none" if r.max_alert_magnitude is None else f"{r.max_alert_magnitude:.2f}"
                        for r in sorted(refs, key=lambda r: r.seed)
                        if (r.n_honest, r.night, r.method) == (b, night, m)
                    ]
                    cells.append(f"{', '.join(mags) or '-':<27}")
                tod = "night" if night else "day"
                lines.append(f"{'real M4.0':<13} {b:>6} {tod:<5} " + " ".join(cells))
    return "\n".join(lines)


def write_plot(result: AttackSuiteResult, path: Any) -> None:
    """Bar chart: smallest k for any alert per attack x background, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = result.smallest_k()
    k_cap = max(result.k_grid) * 2  # "none up to the grid": drawn above the grid's end
    fig, axes = plt.subplots(
        1, len(result.backgrounds), figsize=(5 * len(result.backgrounds), 4.5), sharey=True
    )
    axes = np.atleast_1d(axes)
    width = 0.8 / len(result.methods)
    for ax, b in zip(axes, result.backgrounds, strict=True):
        x = np.arange(len(result.attacks))
        for j, m in enumerate(result.methods):
            vals = []
            for a in result.attacks:
                ks = [
                    r["alert"]
                    for r in rows
                    if r["attack"] == a and r["n_honest"] == b and r["method"] == m
                ]
                found = [k for k in ks if k is not None]
                vals.append(min(found) if found else k_cap)
            ax.bar(x + j * width, vals, width, label=m)
        ax.set_yscale("log")
        ax.axhline(max(result.k_grid), color="grey", lw=0.8, ls="--")
        ax.set_xticks(x + 0.4 - width / 2, result.attacks, rotation=40, ha="right")
        ax.set_title(f"{b:,} honest phones")
    axes[0].set_ylabel("smallest k for an alert (above dashed line: none)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
