"""Association benchmark: our streaming associator vs PyOcto on the same trigger sets.

Assignment F1: true earthquakes and predicted events are matched one to one, largest overlap
first; TP = genuine triggers assigned to the matched event, FP = triggers assigned to an
event that are not genuine triggers of the quake it matched (noise, look-alikes, or another
quake), FN = genuine triggers not assigned to their quake's event. F1 = 2TP / (2TP + FP + FN).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crowdquake.domain.types import ActiveDevices, Trigger
from crowdquake.sim.scenario import Scenario


@dataclass
class AssocResult:
    method: str
    n_triggers: int
    seconds: float
    f1: float
    n_events: int

    @property
    def picks_per_s(self) -> float:
        return self.n_triggers / self.seconds if self.seconds > 0 else float("inf")


def assignment_f1(true_labels: Sequence[str], predicted: Sequence[str | None]) -> float:
    """F1 of trigger-to-event assignment (module docstring); labels "" are noise.

    >>> assignment_f1(["q", "q", "", "q"], ["e1", "e1", "e1", None])
    0.6666666666666666
    """
    quakes = {lab for lab in true_labels if lab and not lab.startswith("lookalike")}
    # One-to-one matching, largest overlaps first: an event explains at most one quake.
    pairs = Counter(
        (t, p) for t, p in zip(true_labels, predicted, strict=True) if t in quakes and p
    )
    match: dict[str, str] = {}
    used: set[str] = set()
    for (q, e), _ in pairs.most_common():
        if q not in match and e not in used:
            match[q] = e
            used.add(e)
    tp = fp = fn = 0
    for t, p in zip(true_labels, predicted, strict=True):
        genuine = t in quakes
        if p is not None:
            if genuine and match.get(t) == p:
                tp += 1
            else:
                fp += 1
                if genuine:
                    fn += 1
        elif genuine:
            fn += 1
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 1.0


def _labels(scenario: Scenario) -> list[str]:
    return [str(x) for x in scenario.triggers.label]


def run_ours(scenario: Scenario, batch_s: float = 0.5) -> AssocResult:
    from crowdquake.domain.detector import StreamingDetector

    det = StreamingDetector()
    det.set_active_devices(scenario.snapshots[0].active)
    tab = scenario.triggers
    trig = tab.to_triggers(0, len(tab), scenario.name)
    bins = np.floor((tab.received_s - scenario.start_s) / batch_s).astype(int)
    cuts = np.flatnonzero(np.diff(bins)) + 1
    c0 = time.process_time()
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(tab)], strict=True):
        det.update(trig[a:b], scenario.start_s + (bins[a] + 1) * batch_s)
    det.update([], scenario.end_s)
    cpu = time.process_time() - c0
    assigned: dict[str, str] = {}
    events = det.events
    for ev in events:
        for a in ev.associations:
            assigned[a.trigger_id] = ev.event_key
    pred = [assigned.get(t.trigger_id) for t in trig]
    return AssocResult(
        "crowdquake", len(trig), cpu, assignment_f1(_labels(scenario), pred), len(events)
    )


def run_pyocto(scenario: Scenario) -> AssocResult:
    from crowdquake.sim.baselines.pyocto_baseline import associate_once

    tab = scenario.triggers
    trig = tab.to_triggers(0, len(tab), scenario.name)
    c0 = time.process_time()
    events = associate_once(trig, n_threads=1)
    cpu = time.process_time() - c0
    pred: list[str | None] = [None] * len(trig)
    for k, (_, _, _, _, idx) in enumerate(events):
        for i in idx:
            pred[i] = f"p{k}"
    return AssocResult(
        "pyocto", len(trig), cpu, assignment_f1(_labels(scenario), pred), len(events)
    )


def streaming_update_ms(
    active: ActiveDevices,
    triggers: list[Trigger],
    window_target: int,
    batch_s: float = 0.5,
    next_n: int = 100,
) -> tuple[float, float, int]:
    """Wall ms of one update once ``window_target`` triggers are in the detector's window.

    The first ``window_target`` triggers (by server arrival) are fed in ``batch_s`` batches
    (not timed); then one update with the next ``next_n`` triggers is timed, and one with all
    triggers of the following ``batch_s``. Returns (ms of the first, ms of the second, its size).
    """
    from crowdquake.domain.detector import StreamingDetector

    det = StreamingDetector()
    det.set_active_devices(active)
    trig = sorted(triggers, key=lambda t: t.received_s or t.time_s)
    rec = np.array([t.received_s or t.time_s for t in trig])
    start = float(rec[0])
    head = trig[:window_target]
    bins = np.floor((rec[:window_target] - start) / batch_s).astype(int)
    for b in np.unique(bins):
        det.update([head[i] for i in np.flatnonzero(bins == b)], start + (b + 1) * batch_s)
    now_s = float(rec[window_target - 1])
    nxt = trig[window_target : window_target + next_n]
    w0 = time.perf_counter()
    det.update(nxt, float(rec[min(window_target + next_n, len(rec)) - 1]))
    small_ms = (time.perf_counter() - w0) * 1000.0
    lo = window_target + next_n
    hi = int(np.searchsorted(rec, rec[min(lo, len(rec) - 1)] + batch_s))
    w0 = time.perf_counter()
    det.update(trig[lo:hi], now_s + batch_s)
    batch_ms = (time.perf_counter() - w0) * 1000.0
    return small_ms, batch_ms, hi - lo
