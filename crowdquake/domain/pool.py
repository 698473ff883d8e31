"""The trigger pool: recent triggers by H3 cell, kept for the detection windows.

Two time-bounded stores, both keyed by the trigger's cell and kept in arrival order:

* **unassociated** triggers (``add``), kept for ``pool_retention_s``: the candidates of a new
  declaration and of the pool sweep when an event is declared;
* **every** recent trigger, associated or not (``remember``), kept for
  ``local_rate_lookback_s + window_s``: the context from which the local noise rate is
  estimated, and the per-phone trigger counts over that span (an impossible rate withdraws
  a phone's trust, ``evidence``).

Scanning cost is counted in the shared ``stats["examined"]`` counter.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator

from crowdquake.domain.events import TriggerRecord
from crowdquake.domain.params import DetectionParams


class TriggerPool:
    """Unassociated and recent triggers per cell, trimmed as the clock advances."""

    def __init__(self, params: DetectionParams, stats: dict[str, int]) -> None:
        self.p = params
        self.stats = stats
        self.unassociated: dict[str, deque[TriggerRecord]] = {}
        self.unassociated_order: deque[TriggerRecord] = deque()
        self.recent: dict[str, deque[TriggerRecord]] = {}
        self.recent_order: deque[TriggerRecord] = deque()
        self.device_recent: Counter[str] = Counter()

    def remember(self, rec: TriggerRecord, clock_s: float) -> None:
        """Keep ``rec`` in the recent context; forget what is older than the lookback."""
        self.recent.setdefault(rec.cell, deque()).append(rec)
        self.recent_order.append(rec)
        self.device_recent[rec.trigger.device_id] += 1
        horizon = clock_s - self.p.local_rate_lookback_s - self.p.window_s
        while self.recent_order and self.recent_order[0].time_s < horizon:
            old = self.recent_order.popleft()
            dev = old.trigger.device_id
            self.device_recent[dev] -= 1
            if self.device_recent[dev] <= 0:
                del self.device_recent[dev]
            q = self.recent.get(old.cell)
            while q and q[0].time_s < horizon:
                q.popleft()
            if q is not None and not q:
                del self.recent[old.cell]

    def add(self, rec: TriggerRecord, clock_s: float) -> None:
        """Pool an unassociated trigger; drop pooled ones older than the retention."""
        self.unassociated.setdefault(rec.cell, deque()).append(rec)
        self.unassociated_order.append(rec)
        horizon = clock_s - self.p.pool_retention_s
        while self.unassociated_order and self.unassociated_order[0].time_s < horizon:
            old = self.unassociated_order.popleft()
            q = self.unassociated.get(old.cell)
            while q and q[0].time_s < horizon:
                q.popleft()
            if q is not None and not q:
                del self.unassociated[old.cell]

    def window(self, cells: list[str], t_from: float, t_to: float) -> list[TriggerRecord]:
        """Pooled, still unassigned triggers of ``cells`` with t_from <= time <= t_to."""
        out: list[TriggerRecord] = []
        examined = 0
        for c in cells:
            q = self.unassociated.get(c)
            if not q:
                continue
            for r in reversed(q):  # newest first: stop at the window start
                examined += 1
                if r.time_s < t_from:
                    break
                if r.time_s <= t_to and not r.assigned:
                    out.append(r)
        self.stats["examined"] += examined
        return out

    def recent_since(self, cell: str, t_from: float) -> Iterator[TriggerRecord]:
        """Recent triggers of ``cell`` (associated or not) from ``t_from``, newest first."""
        q = self.recent.get(cell)
        if not q:
            return
        for r in reversed(q):
            self.stats["examined"] += 1
            if r.time_s < t_from:
                return
            yield r

    def in_time_order(self) -> list[TriggerRecord]:
        """Every pooled trigger (assigned ones included), by time then trigger id."""
        return sorted(self.unassociated_order, key=lambda r: (r.time_s, r.trigger.trigger_id))


def first_per_device(records: list[TriggerRecord]) -> list[TriggerRecord]:
    """The earliest trigger of each phone (ties by trigger id), in time order."""
    seen: dict[str, TriggerRecord] = {}
    for r in sorted(records, key=lambda r: (r.time_s, r.trigger.trigger_id)):
        seen.setdefault(r.trigger.device_id, r)
    return list(seen.values())
