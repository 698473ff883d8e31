"""Replay scenarios through methods in streaming fashion and record what each one said when.

Triggers are fed in batches of ``batch_s`` by server arrival time (``received_s``); empty batches
are skipped, so a noise-only day costs time in proportion to its triggers, not to its seconds.
A method sees ``set_active_devices`` at every steady-set snapshot (hourly on long periods).
For every event key the runner records the first estimate (and the server time of the batch
that produced it) and the last one; CPU time and per-update wall time are measured around the
method calls only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from crowdquake.domain.types import EventEstimate
from crowdquake.sim.methods import MethodSpec
from crowdquake.sim.scenario import Scenario


@dataclass
class EventRecord:
    key: str
    first_seen_s: float
    first: EventEstimate
    final: EventEstimate
    merged: bool = False


@dataclass
class MethodRun:
    method: str
    scenario: str
    events: list[EventRecord] = field(default_factory=list)
    n_triggers: int = 0
    cpu_s: float = 0.0
    update_ms: list[float] = field(default_factory=list)


def run_scenario(method: MethodSpec, scenario: Scenario, batch_s: float = 0.5) -> MethodRun:
    """Stream one scenario through a fresh instance of ``method``."""
    inst = method.factory()
    tab = scenario.triggers
    run = MethodRun(method.name, scenario.name, n_triggers=len(tab))
    records: dict[str, EventRecord] = {}
    cpu = 0.0
    upd: list[float] = []

    def call(batch_start: int, batch_stop: int, now_s: float) -> None:
        nonlocal cpu
        trig = tab.to_triggers(batch_start, batch_stop, scenario.name)
        c0, w0 = time.process_time(), time.perf_counter()
        changed = inst.update(trig, now_s)
        cpu += time.process_time() - c0
        upd.append((time.perf_counter() - w0) * 1000.0)
        for est in changed:
            _record(records, est, now_s)

    snap_times = np.array([s.start_s for s in scenario.snapshots])
    snap_next = 0
    rec = tab.received_s
    bins = np.floor((rec - scenario.start_s) / batch_s).astype(np.int64)
    # Boundaries of runs of equal bin index (rows are sorted by received_s).
    cuts = np.flatnonzero(np.diff(bins)) + 1
    starts = np.concatenate([[0], cuts]) if len(tab) else np.zeros(0, np.int64)
    stops = np.concatenate([cuts, [len(tab)]]) if len(tab) else np.zeros(0, np.int64)
    for a, b in zip(starts, stops, strict=True):
        now_s = scenario.start_s + (bins[a] + 1) * batch_s
        while snap_next < len(snap_times) and snap_times[snap_next] <= now_s:
            c0 = time.process_time()
            inst.set_active_devices(scenario.snapshots[snap_next].active)
            cpu += time.process_time() - c0
            snap_next += 1
        call(int(a), int(b), float(now_s))
    while snap_next < len(snap_times):
        inst.set_active_devices(scenario.snapshots[snap_next].active)
        snap_next += 1
    call(0, 0, scenario.end_s)
    for est in inst.events:
        _record(records, est, scenario.end_s)
    run.events = list(records.values())
    run.cpu_s = cpu
    run.update_ms = upd
    return run


def _record(records: dict[str, EventRecord], est: EventEstimate, now_s: float) -> None:
    r = records.get(est.event_key)
    merged = getattr(est, "merged_into", None) is not None
    if r is None:
        # With final_only, an event the method never announced through update(): its first
        # sighting is the end of the scenario.
        records[est.event_key] = EventRecord(est.event_key, now_s, est, est, merged)
        return
    r.final = est
    r.merged = r.merged or merged
