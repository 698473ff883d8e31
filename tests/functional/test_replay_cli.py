"""``crowdquake simulate`` writes the replay CSV contract; ``crowdquake replay`` reads it and
finds the earthquake through the same pipeline services as the live system."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crowdquake.cli import main
from crowdquake.domain.geodesy import haversine_km

pytestmark = pytest.mark.slow


def test_simulate_then_replay_finds_the_quake(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "scenario"
    simulated = runner.invoke(
        main,
        [
            "simulate",
            "--scenario",
            "earthquake",
            "--magnitude",
            "5.5",
            "--seed",
            "4",
            "--penetration",
            "0.0005",
            "--out",
            str(out),
        ],
    )
    assert simulated.exit_code == 0, simulated.output
    truth = json.loads((out / "truth.json").read_text())
    result_path = tmp_path / "events.json"
    replayed = runner.invoke(
        main,
        [
            "replay",
            "--triggers",
            str(out / "triggers.csv"),
            "--heartbeats",
            str(out / "heartbeats.csv"),
            "--json",
            str(result_path),
        ],
    )
    assert replayed.exit_code == 0, replayed.output
    events = json.loads(result_path.read_text())["events"]
    quake = truth["earthquake"]
    lat, lon = quake["latitude"], quake["longitude"]
    near = [e for e in events if haversine_km(e["latitude"], e["longitude"], lat, lon) < 15]
    assert len(near) == 1
    event = near[0]
    assert set(event) >= {
        "origin_time",
        "latitude",
        "longitude",
        "depth_km",
        "magnitude",
        "detected_at",
        "n_triggers",
        "revisions",
    }
    assert event["revisions"] and event["n_triggers"] >= 10


def test_replay_reports_bad_csv_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("time,latitude,longitude,pga_ms2\n2024-01-01T00:00:00,1,2,\n")
    result = CliRunner().invoke(
        main, ["replay", "--triggers", str(bad), "--json", str(tmp_path / "o.json")]
    )
    assert result.exit_code == 2
    assert "time zone" in result.output
