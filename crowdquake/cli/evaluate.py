"""``crowdquake evaluate``: run an evaluation suite through our detector and the baselines."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from crowdquake.sim.attack_suite import AttackSuiteResult
    from crowdquake.sim.scenario import ScenarioSpec


@click.command("evaluate")
@click.option(
    "--suite",
    "suite_name",
    type=click.Choice(["smoke", "standard", "attacks"]),
    default="smoke",
    show_default=True,
    help="Which scenario suite to run (attacks: fake phones, docs/evaluation.md).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Suite seed.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the metrics JSON.",
)
@click.option(
    "--plots",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for PNG plots (default: next to the JSON).",
)
@click.option(
    "--method",
    "method_names",
    multiple=True,
    help="Only these methods (crowdquake, myshake2020, count_test, pyocto; crowdquake_trust: "
    "ours with honest trust profiles, only when named).",
)
@click.option("--limit", type=int, default=None, help="Only the first N scenarios (debugging).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["earthquake", "noise", "lookalike"]),
    help="Only scenarios of these kinds (standard/smoke; repeatable).",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Only every N-th selected scenario, in suite order (a systematic sample).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="all cores",
    help="Processes running scenarios in parallel (results do not depend on it).",
)
@click.option(
    "--seeds",
    "n_seeds",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="attacks: seeds SEED, SEED+1, ... (the smallest k is reported per seed and overall).",
)
@click.option(
    "--k-grid",
    default="1,2,4,8,16,32,64,128,256,512,1000",
    show_default=True,
    help="attacks: comma-separated numbers of fake phones to try.",
)
@click.option(
    "--backgrounds",
    default="0,2000,20000",
    show_default=True,
    help="attacks: comma-separated numbers of honest active phones in the city.",
)
@click.option(
    "--attack",
    "attack_names",
    multiple=True,
    help="attacks: only these attacks (repeatable; default all, docs/evaluation.md).",
)
@click.option(
    "--from-partial",
    "partial_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="attacks: run nothing; tabulate the runs a (cut-short) grid saved in its "
    "OUT.partial.jsonl (the table says which tasks it has).",
)
def evaluate(
    suite_name: str,
    seed: int,
    json_path: Path,
    plot_dir: Path | None,
    method_names: tuple[str, ...],
    limit: int | None,
    kinds: tuple[str, ...],
    every: int,
    jobs: int,
    n_seeds: int,
    k_grid: str,
    backgrounds: str,
    attack_names: tuple[str, ...],
    partial_path: Path | None,
) -> None:
    """Simulate the suite, replay every scenario through every method, print and save metrics."""
    if suite_name == "attacks":
        _attacks(
            seed,
            n_seeds,
            k_grid,
            backgrounds,
            json_path,
            plot_dir,
            method_names,
            jobs,
            partial_path,
            attack_names,
        )
        return
    from crowdquake.sim.harness import run_suite, select_indices
    from crowdquake.sim.methods import all_methods
    from crowdquake.sim.report import table, write_json, write_plots
    from crowdquake.sim.suites import SUITES

    methods = all_methods(method_names or None)
    if not methods:
        names = ", ".join(method_names)
        raise click.BadParameter(f"no such method: {names}", param_hint="--method")
    kind_set = frozenset(kinds) or None
    n = len(select_indices(SUITES[suite_name](seed), limit, kind_set, every))
    interactive = sys.stderr.isatty()
    t0 = time.perf_counter()

    def log(i: int, spec: ScenarioSpec) -> None:
        # Without a terminal the bar stays silent: print a line every 10 scenarios instead.
        bar.update(1)
        if interactive:
            return
        if (i + 1) % 10 == 0 or i + 1 == n:
            elapsed = time.perf_counter() - t0
            click.echo(f"[{i + 1}/{n}] {spec.name} {elapsed:.0f} s", err=True)

    with click.progressbar(length=n, label=f"suite {suite_name}", file=sys.stderr) as bar:
        result = run_suite(
            suite_name,
            seed,
            methods,
            progress=log,
            limit=limit,
            jobs=jobs,
            kinds=kind_set,
            every=every,
        )
    click.echo(table(result))
    click.echo(f"wall time {result.wall_s:.1f} s, {result.n_triggers_simulated} triggers simulated")
    write_json(result, json_path)
    plots = write_plots(result, plot_dir if plot_dir is not None else json_path.parent)
    click.echo(f"wrote {json_path} and {len(plots)} plots")


def _attacks(
    seed: int,
    n_seeds: int,
    k_grid: str,
    backgrounds: str,
    json_path: Path,
    plot_dir: Path | None,
    method_names: tuple[str, ...],
    jobs: int,
    partial_path: Path | None = None,
    attack_names: tuple[str, ...] = (),
) -> None:
    import json
    from dataclasses import asdict

    from crowdquake.sim.attack_suite import (
        METHODS,
        RunResult,
        run_attack_suite,
    )
    from crowdquake.sim.attacks import ATTACKS

    unknown = sorted(set(attack_names) - set(ATTACKS))
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: choose from {', '.join(ATTACKS)}", param_hint="--attack"
        )
    attacks = [a for a in ATTACKS if not attack_names or a in attack_names]

    try:
        ks = sorted({int(x) for x in k_grid.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--k-grid") from None
    if not ks or ks[0] < 1:
        raise click.BadParameter("numbers of fake phones >= 1", param_hint="--k-grid")
    try:
        bgs = sorted({int(x) for x in backgrounds.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--backgrounds") from None
    if not bgs or bgs[0] < 0:
        raise click.BadParameter("numbers of honest phones >= 0", param_hint="--backgrounds")
    methods = [m for m in METHODS if not method_names or m in method_names]
    if not methods:
        raise click.BadParameter(f"choose from {', '.join(METHODS)}", param_hint="--method")
    if partial_path is not None:
        from crowdquake.sim.attack_suite import result_from_runs

        with partial_path.open() as f:
            saved = [RunResult(**json.loads(line)) for line in f if line.strip()]
        _write_attacks(result_from_runs(saved, ks), json_path, plot_dir)
        return
    t0 = time.perf_counter()

    def log(done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            click.echo(f"[{done}/{total}] {time.perf_counter() - t0:.0f} s", err=True)

    # every finished task's runs are appended here at once: a cut-short grid keeps its results
    partial = json_path.with_name(json_path.name + ".partial.jsonl")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text("")

    def save(runs: list[RunResult]) -> None:
        with partial.open("a") as f:
            f.writelines(json.dumps(asdict(r)) + "\n" for r in runs)

    result = run_attack_suite(
        list(range(seed, seed + n_seeds)),
        k_grid=ks,
        backgrounds=bgs,
        attacks=attacks,
        methods=methods,
        jobs=jobs,
        progress=log,
        on_task=save,
    )
    _write_attacks(result, json_path, plot_dir)


def _write_attacks(result: AttackSuiteResult, json_path: Path, plot_dir: Path | None) -> None:
    import json

    from crowdquake.sim.attack_suite import table, write_plot

    click.echo(table(result))
    click.echo(f"wall time {result.wall_s:.1f} s, {len(result.runs)} runs")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result.to_json(), indent=1))
    out_dir = plot_dir if plot_dir is not None else json_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = out_dir / "attacks_smallest_k.png"
    write_plot(result, plot)
    click.echo(f"wrote {json_path} and {plot}")
