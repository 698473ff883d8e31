"""Group commit: every caller gets its own answer, concurrent callers share flushes, a bad row
fails only its caller, and the PostgreSQL insert it runs on is durable and idempotent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from crowdquake.storage.group_commit import GroupCommitInserter


class FakeTable:
    """An in-memory keyed table whose insert can be held open, to force callers to queue."""

    def __init__(self) -> None:
        self.keys: set[Any] = set()
        self.flushes: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.inside = 0  # flushes in progress
        self.most_inside = 0
        self._lock = threading.Lock()

    def insert(self, rows: Sequence[dict[str, Any]]) -> set[Any]:
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        self.hold.wait(5)
        with self._lock:
            self.inside -= 1
            if any(r.get("bad") for r in rows):
                raise ValueError("bad row")
            new = set()
            for row in rows:
                if row["id"] not in self.keys:
                    self.keys.add(row["id"])
                    new.add(row["id"])
            self.flushes.append(len(rows))
        return new


def test_single_caller_gets_its_key_and_a_replay_gets_none() -> None:
    table = FakeTable()
    inserter = GroupCommitInserter(table.insert)
    key = uuid.uuid4()
    assert inserter.insert([{"id": key}]) == {key}
    assert inserter.insert([{"id": key}]) == set()
    assert table.flushes == [1, 1]


def test_callers_arriving_during_a_flush_share_the_next_one() -> None:
    table = FakeTable()
    sizes: list[int] = []
    inserter = GroupCommitInserter(table.insert, on_flush=sizes.append)
    table.hold.clear()
    keys = [uuid.uuid4() for _ in range(9)]
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(inserter.insert, [{"id": keys[0]}])
        assert table.entered.wait(5)  # the first caller leads and is held inside its flush
        rest = [pool.submit(inserter.insert, [{"id": k}]) for k in keys[1:]]
        while len(inserter._queue) < 8:  # the others queue behind it
            threading.Event().wait(0.01)
        table.hold.set()
        results = [first.result(5)] + [f.result(5) for f in rest]
    assert results == [{k} for k in keys]
    assert table.flushes == [1, 8] and sizes == [1, 8]
    assert table.keys == set(keys)


def test_the_same_key_in_one_flush_goes_to_the_first_caller_only() -> None:
    table = FakeTable()
    inserter = GroupCommitInserter(table.insert)
    key = uuid.uuid4()
    table.hold.clear()
    with ThreadPoolExecutor(3) as pool:
        lead = pool.submit(inserter.insert, [{"id": uuid.uuid4()}])
        assert table.entered.wait(5)
        a = pool.submit(inserter.insert, [{"id": key}])
        while len(inserter._queue) < 1:
            threading.Event().wait(0.01)
        b = pool.submit(inserter.insert, [{"id": key}])
        while len(inserter._queue) < 2:
            threading.Event().wait(0.01)
        table.hold.set()
        lead.result(5)
        assert (a.result(5), b.result(5)) == ({key}, set())


def test_a_failing_row_fails_only_its_caller() -> None:
    table = FakeTable()
    inserter = GroupCommitInserter(table.insert)
    table.hold.clear()
    good = [uuid.uuid4() for _ in range(3)]
    with ThreadPoolExecutor(5) as pool:
        lead = pool.submit(inserter.insert, [{"id": uuid.uuid4()}])
        assert table.entered.wait(5)
        futures = [pool.submit(inserter.insert, [{"id": k}]) for k in good]
        bad = pool.submit(inserter.insert, [{"id": uuid.uuid4(), "bad": True}])
        while len(inserter._queue) < 4:
            threading.Event().wait(0.01)
        table.hold.set()
        lead.result(5)
        assert [f.result(5) for f in futures] == [{k} for k in good]
        with pytest.raises(ValueError, match="bad row"):
            bad.result(5)
    assert table.keys >= set(good)


def test_many_threads_many_rows_nothing_lost_or_doubled() -> None:
    table = FakeTable()
    sizes: list[int] = []
    inserter = GroupCommitInserter(table.insert, on_flush=sizes.append, max_rows=16)
    keys = [uuid.uuid4() for _ in range(2000)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda k: inserter.insert([{"id": k}]), keys + keys[:500]))
    assert results[:2000] == [{k} for k in keys]
    assert results[2000:] == [set()] * 500
    assert sum(sizes) == 2500 and max(sizes) <= 16


def test_up_to_max_flushes_run_at_once_and_the_rest_queue() -> None:
    table = FakeTable()
    inserter = GroupCommitInserter(table.insert, max_flushes=2)
    table.hold.clear()
    keys = [uuid.uuid4() for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(inserter.insert, [{"id": k}]) for k in keys]
        while len(inserter._queue) < 6:  # two callers lead (held in their flushes), six queue
            threading.Event().wait(0.01)
        assert table.inside == 2
        table.hold.set()
        assert [f.result(5) for f in futures] == [{k} for k in keys]
    assert table.most_inside == 2
    assert sorted(table.flushes)[:2] == [1, 1] and sum(table.flushes) == 8


@pytest.mark.parametrize("max_rows", [1, 16])
def test_several_flushes_at_once_lose_and_double_nothing(max_rows: int) -> None:
    table = FakeTable()
    inserter = GroupCommitInserter(table.insert, max_rows=max_rows, max_flushes=3)
    keys = [uuid.uuid4() for _ in range(1500)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda k: inserter.insert([{"id": k}]), keys + keys[:300]))
    assert results[:1500] == [{k} for k in keys]
    assert results[1500:] == [set()] * 300
    assert table.most_inside <= 3 and sum(table.flushes) == 1800
