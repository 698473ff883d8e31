"""The README's configuration table and command list stay true to the code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from click.testing import CliRunner

from crowdquake.cli import main
from crowdquake.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"`(CROWDQUAKE_[A-Z0-9_]+)`", README.read_text()))
    expected = {f"CROWDQUAKE_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert expected <= documented
    assert not {v for v in documented - expected if not v.startswith("CROWDQUAKE_TEST_")}


def test_documented_commands_exist() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "db", "demo", "replay", "simulate", "evaluate", "bench"):
        assert command in result.output
