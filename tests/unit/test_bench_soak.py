"""``crowdquake bench soak``'s verdict: each invariant breaks the run when it should."""

from __future__ import annotations

import dataclasses

import pytest

from crowdquake.cli.bench_soak import RECOVERY_GRACE_S, Fault, Stack, _report
from crowdquake.cli.bench_soak_phones import Tally

PG = Fault("PostgreSQL restart", started=1000.0, ended=1010.0, catch_up_s=2.0)


def _clean() -> Tally:
    tally = Tally(sent=4)
    tally.trigger_ids = {"a", "b"}
    tally.accepted_triggers = {"a", "b"}
    tally.created.update({"a": 1, "b": 1})
    tally.accepted_heartbeats = {"d1"}
    tally.server_errors = [(1001.0, 503), (1010.0 + RECOVERY_GRACE_S - 1, 503)]
    return tally


def _verdict(
    tally: Tally, stored: set[str], faults: list[Fault] | None = None, states: int = 1
) -> bool:
    stack = Stack.__new__(Stack)  # only worker_exits is read
    stack.worker_exits = []
    return _report(tally, faults or [PG], 1, 60.0, stored, len(stored), states, 1, stack)


def test_a_clean_run_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _verdict(_clean(), {"a", "b"})
    assert "BROKEN" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "breakage",
    [
        "lost",
        "unacknowledged",
        "duplicate",
        "500",
        "late 503",
        "abandoned",
        "rejected",
        "not caught up",
        "heartbeat lost",
    ],
)
def test_each_invariant_breaks_the_run(breakage: str) -> None:
    tally, stored, faults, states = _clean(), {"a", "b"}, [PG], 1
    if breakage == "lost":
        stored = {"a"}
    elif breakage == "unacknowledged":
        stored = {"a", "b", "c"}
        tally.trigger_ids.add("c")
    elif breakage == "duplicate":
        tally.created["a"] = 2
    elif breakage == "500":
        tally.server_errors.append((1005.0, 500))
    elif breakage == "late 503":
        tally.server_errors.append((1010.0 + RECOVERY_GRACE_S + 1, 503))
    elif breakage == "abandoned":
        tally.abandoned = 1
    elif breakage == "rejected":
        tally.rejected[422] = 1
    elif breakage == "not caught up":
        faults = [PG, dataclasses.replace(PG, name="Redis restart", catch_up_s=None)]
    elif breakage == "heartbeat lost":
        states = 0
    assert not _verdict(tally, stored, faults, states)
