"""After-commit hand-off to detection: coalesced, fail-open, one queued run per region."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crowdquake.services.detection import PipelineConfig, claim_regions
from crowdquake.storage.models import RegionState
from crowdquake.tasks.handoff import DetectionHandoff


def _wait(predicate: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.005)
    raise AssertionError("timed out")


def test_handoff_coalesces_regions_of_many_commits_into_few_rounds() -> None:
    calls: list[list[str]] = []
    release = threading.Event()

    def dispatch(keys: list[str]) -> int:
        calls.append(keys)
        release.wait(5)  # the first round is slow: everything after it piles up
        return len(keys)

    handoff = DetectionHandoff(dispatch, min_interval_s=0.0)
    handoff.triggers_committed({"r1"})
    _wait(lambda: len(calls) == 1)
    for k in range(200):
        handoff.triggers_committed({f"r{k % 3}"})
    release.set()
    _wait(lambda: handoff.rounds == 2)
    assert calls == [["r1"], ["r0", "r1", "r2"]]


def test_handoff_survives_a_failing_dispatch() -> None:
    calls: list[list[str]] = []

    def dispatch(keys: list[str]) -> int:
        calls.append(keys)
        if len(calls) == 1:
            raise ConnectionError("broker down")
        return len(keys)

    handoff = DetectionHandoff(dispatch, min_interval_s=0.0)
    handoff.triggers_committed({"a"})
    _wait(lambda: len(calls) == 1)
    handoff.triggers_committed({"b"})
    _wait(lambda: handoff.rounds == 1)
    assert calls == [["a"], ["b"]]


def test_claim_regions_queues_one_run_per_region_until_it_finishes(
    session: Session, now: datetime
) -> None:
    config = PipelineConfig()
    assert claim_regions(session, ["b", "a", "a"], now, config) == ["a", "b"]
    assert claim_regions(session, ["a", "b", "c"], now, config) == ["c"]
    state = session.get(RegionState, "a")
    assert state is not None
    state.queued_at = None  # the run finished
    session.flush()
    assert claim_regions(session, ["a", "b"], now, config) == ["a"]
    # A claim older than redrive_after_s is presumed lost and re-claimed.
    later = now + timedelta(seconds=config.redrive_after_s + 1)
    assert claim_regions(session, ["b"], later, config) == ["b"]
