"""A bounded attack suite (small k grid, one seed): ours holds what the naive rule publishes.

The full suite (``crowdquake evaluate --suite attacks``) runs the same code on the whole grid;
its table is in docs/evaluation.md.
"""

from __future__ import annotations

import math

from crowdquake.sim.attack_suite import run_attack_suite, table


def _k(rows: list[dict[str, object]], attack: str, honest: int, method: str, outcome: str) -> float:
    row = next(
        r for r in rows if (r["attack"], r["n_honest"], r["method"]) == (attack, honest, method)
    )
    return math.inf if row[outcome] is None else float(row[outcome])


def test_bounded_attack_suite_ordering() -> None:
    result = run_attack_suite(
        [1],
        k_grid=(8, 64),
        backgrounds=(0, 2000),
        attacks=("moveout", "burst_jitter", "sleepers", "old_sleepers"),
        nights=(False,),
    )
    rows = result.smallest_k()
    text = table(result)
    assert "moveout" in text and "count_test" in text
    for attack in ("moveout", "burst_jitter", "sleepers", "old_sleepers"):
        for honest in (0, 2000):
            # ours: no alert of any level, and nothing public (not held), at any k of the grid
            assert _k(rows, attack, honest, "crowdquake", "alert") == math.inf, text
            assert _k(rows, attack, honest, "crowdquake", "public") == math.inf, text
    # the naive count rule publishes the forged moveout within the grid: the ordering
    naive = _k(rows, "moveout", 2000, "count_test", "public")
    assert naive <= 64, text
    assert _k(rows, "moveout", 2000, "crowdquake", "public") > naive
    # sleepers (42 days, daily heartbeats, 32 prefixes and bursts): the naive rule publishes
    # them too; ours holds them (no established phone feels the forged shaking)
    assert _k(rows, "sleepers", 2000, "count_test", "public") <= 64, text
    # old sleepers (120 days: full trust, 32 prefixes and bursts): the naive rule alerts them
    # with no honest phone around and publishes them among 2,000; ours holds them (their
    # registration cohort stands out against the honest phones' ages, and without honest
    # phones the members span too few registration weeks: docs/science.md 7b)
    assert _k(rows, "old_sleepers", 0, "count_test", "take_action") <= 64, text
    assert _k(rows, "old_sleepers", 2000, "count_test", "public") <= 64, text


def test_a_cut_short_grid_is_tabulated_from_its_saved_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    from dataclasses import asdict

    from click.testing import CliRunner

    from crowdquake.cli.evaluate import evaluate
    from crowdquake.sim.attack_suite import RunResult

    runs = [
        RunResult("moveout", 2000, False, 1, 8, "count_test", event=True, public=True),
        RunResult("moveout", 2000, False, 1, 8, "crowdquake", event=True),
        RunResult("moveout", 2000, False, 1, 64, "crowdquake", event=True),
    ]
    partial = tmp_path / "a.json.partial.jsonl"
    partial.write_text("".join(json.dumps(asdict(r)) + "\n" for r in runs))
    out = tmp_path / "a.json"
    res = CliRunner().invoke(
        evaluate,
        ["--suite", "attacks", "--json", str(out), "--from-partial", str(partial)],
    )
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if line.startswith("moveout"))
    assert "8 / none / none / none" in row and "8 / 8 / none / none" in row
    assert json.loads(out.read_text())["seeds"] == [1]
