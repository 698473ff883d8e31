"""Group commit: the single-row inserts of concurrent request threads as one statement and commit.

A web process serving several threads would otherwise pay, per trigger, a connection checkout, a
statement and a commit (a WAL flush on PostgreSQL). Here a thread that finds no flush in progress
becomes the *leader*: it takes every row queued so far (up to ``max_rows``), inserts them with one
``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` in one transaction and commits. Threads that
arrive during a flush queue up; when the flush ends the leader hands leadership to the first of
them, which flushes everything queued meanwhile. Under light load every thread is its own leader
and pays nothing extra; under heavy load one statement carries many rows (the classic group
commit of database logs, Gray & Reuter 1993, section 9.4.7). With ``max_flushes = k > 1`` up to k
flushes run at once, each on its own connection: an arrival finds a free flush slot instead of
waiting for a commit in progress to end (each flush takes the head of the queue, so a leader's own
rows may travel in another leader's flush; it then waits for that one).

Durability: :meth:`GroupCommitInserter.insert` returns only after the commit that holds the
caller's rows, so a 2xx sent afterwards still means durable. A failed flush of several callers is
retried caller by caller, so one bad row fails only its own request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
InsertRows = Callable[[Sequence[Row]], set[Any]]


@dataclass(eq=False)
class _Waiter:
    rows: Sequence[Row]
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    served: bool = False
    inserted: set[Any] = field(default_factory=set)
    error: BaseException | None = None


class GroupCommitInserter:
    """Coalesce ``INSERT ... ON CONFLICT DO NOTHING`` of one table across threads of a process.

    ``insert_rows`` inserts and commits a list of rows, ignoring existing keys, and returns the
    keys it inserted (e.g. :func:`crowdquake.storage.queries.insert_committed_postgres`); ``key``
    is the row's key field. Safe to share between the threads of one process; create one per
    process (it holds no connection between flushes). ``on_flush`` is told the row count of each
    successful flush (a metric).
    """

    def __init__(
        self,
        insert_rows: InsertRows,
        *,
        key: str = "id",
        max_rows: int = 1000,
        max_flushes: int = 1,
        on_flush: Callable[[int], None] | None = None,
    ) -> None:
        self._insert = insert_rows
        self._on_flush = on_flush
        self._key = key
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._max_flushes = max_flushes
        self._flushing = 0  # flushes in progress (each on its own connection)

    def insert(self, rows: Sequence[Row]) -> set[Any]:
        """Insert ``rows`` (durably) unless their key exists; return the keys this call inserted.

        When two queued callers carry the same key, the first one inserts it and the second sees
        it as existing, exactly as if they had run one after the other.
        """
        waiter = _Waiter(rows)
        with self._lock:
            self._queue.append(waiter)
            if self._flushing < self._max_flushes:
                self._flushing += 1
                waiter.leads = True
        while True:
            if waiter.leads:
                waiter.leads = False
                self._lead()
            if waiter.done:
                return self._result(waiter)
            waiter.woken.wait()
            waiter.woken.clear()

    @staticmethod
    def _result(waiter: _Waiter) -> set[Any]:
        if waiter.error is not None:
            raise waiter.error
        return waiter.inserted

    def _lead(self) -> None:
        """Flush one group from the head of the queue (with several flushes in progress, this
        thread's own rows may be in another group; ``insert`` then waits for that one)."""
        with self._lock:
            group: list[_Waiter] = []
            total = 0
            while self._queue and (not group or total + len(self._queue[0].rows) <= self._max_rows):
                waiter = self._queue.pop(0)
                group.append(waiter)
                total += len(waiter.rows)
        try:
            self._flush(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.leads = True
                    successor.woken.set()
                else:
                    self._flushing -= 1
            for waiter in group:
                if not waiter.served:  # the flush itself was interrupted
                    waiter.error = RuntimeError("group commit flush aborted")
                waiter.done = True
                waiter.woken.set()

    def _flush(self, group: list[_Waiter]) -> None:
        rows = [row for waiter in group for row in waiter.rows]
        try:
            inserted = self._insert(rows)
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                group[0].served = True
                return
            for waiter in group:  # isolate the failing caller
                self._flush([waiter])
            return
        claimed: set[Any] = set()
        for waiter in group:
            mine = {row[self._key] for row in waiter.rows} & inserted
            waiter.inserted = mine - claimed
            waiter.served = True
            claimed |= mine
        if self._on_flush is not None:
            self._on_flush(len(rows))
