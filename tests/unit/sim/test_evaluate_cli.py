"""``crowdquake evaluate --suite smoke`` end to end, and ``simulate`` writing the CSV contract."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from crowdquake.cli.evaluate import evaluate
from crowdquake.cli.simulate import simulate


def test_smoke_suite_runs_and_writes_json_table_and_plots(tmp_path):
    out = tmp_path / "smoke.json"
    res = CliRunner().invoke(evaluate, ["--suite", "smoke", "--seed", "1", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["suite"] == "smoke"
    methods = doc["methods"]
    assert {"myshake2020", "count_test"} <= set(methods)
    for m in methods.values():
        assert m["n_scenarios"] == 7
        assert m["detection_rate_m_ge_4_5"]["total"] >= 1
    assert "detect M>=4.5" in res.output
    assert (tmp_path / "delay_vs_magnitude.png").stat().st_size > 1000
    assert (tmp_path / "worst_locations.png").exists()


def test_simulate_writes_replay_contract(tmp_path):
    res = CliRunner().invoke(
        simulate,
        [
            "--scenario",
            "earthquake",
            "--seed",
            "2",
            "--penetration",
            "2e-4",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    with (tmp_path / "triggers.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"time", "latitude", "longitude", "pga_ms2", "device_id", "score"} <= set(
        rows[0]
    )
    assert rows[0]["time"].endswith("Z")
    with (tmp_path / "heartbeats.csv").open() as fh:
        hb = list(csv.DictReader(fh))
    assert list(hb[0]) == ["device_id", "latitude", "longitude", "time"]
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["earthquake"]["magnitude"] == 5.5
    again = tmp_path / "again"
    CliRunner().invoke(
        simulate,
        ["--scenario", "earthquake", "--seed", "2", "--penetration", "2e-4", "--out", str(again)],
    )
    assert (again / "triggers.csv").read_text() == (tmp_path / "triggers.csv").read_text()


def test_simulate_rejects_out_of_range_penetration(tmp_path):
    res = CliRunner().invoke(simulate, ["--penetration", "0.5", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "penetration" in res.output
