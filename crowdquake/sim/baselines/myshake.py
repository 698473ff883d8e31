"""MyShake 2020 network detection, re-implemented from its published description.

Kong, Martin-Short & Allen (2020), "Toward global earthquake early warning with the MyShake
smartphone seismic network, Part 1: simulation platform and detection algorithm", SRL 91(4)
2206-2215:

* the region is tiled with 10 km x 10 km cells; a cell is *activated* when it has at least 5
  steady phones and at least 30% of them triggered within a 20 s window;
* activated cells are clustered with DBSCAN (eps 200 km); a cluster of >= 2 activated cells
  declares an event;
* the event is located by Nelder-Mead minimisation of P-wave travel-time residuals of its
  triggers at a fixed 10 km depth (homogeneous vp = 6.1 km/s, as in MyShake);
* a later cluster within 200 km of a live event (last update < 60 s ago) updates it.

Magnitude: ours on its triggers (see ``common``). Cells are squares of a local azimuthal
equidistant projection centred on the active phones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from crowdquake.domain.geodesy import LocalProjection
from crowdquake.domain.types import ActiveDevices, EventEstimate, Trigger
from crowdquake.sim.baselines.common import dbscan, make_estimate
from crowdquake.sim.methods import MethodSpec

CELL_KM = 10.0
MIN_STEADY = 5
MIN_FRACTION = 0.3
WINDOW_S = 20.0
DBSCAN_EPS_KM = 200.0
MIN_CELLS = 2
DEPTH_KM = 10.0
VP_KM_S = 6.1
EVENT_LINK_S = 60.0


class _Event:
    def __init__(self, key: str, x: float, y: float, t0: float, detected_at_s: float) -> None:
        self.key, self.x, self.y, self.t0 = key, x, y, t0
        self.detected_at_s = detected_at_s
        self.triggers: dict[str, Trigger] = {}
        self.last_s = detected_at_s


class MyShake2020:
    def __init__(self) -> None:
        self._active = ActiveDevices.empty()
        self._proj = LocalProjection(0.0, 0.0)
        self._steady: dict[tuple[int, int], int] = {}
        self._recent: deque[tuple[Trigger, tuple[int, int]]] = deque()
        self._events: dict[str, _Event] = {}
        self._estimates: dict[str, EventEstimate] = {}
        self._seq = 0

    def set_active_devices(self, active: ActiveDevices) -> None:
        self._active = active
        if len(active) and not self._steady and not self._events:
            self._proj = LocalProjection(
                float(np.mean(active.lat_deg)), float(np.mean(active.lon_deg))
            )
        x, y = self._proj.forward(active.lat_deg, active.lon_deg)
        cx, cy = np.floor(x / CELL_KM).astype(int), np.floor(y / CELL_KM).astype(int)
        keys, counts = np.unique(np.stack([cx, cy], axis=1), axis=0, return_counts=True)
        self._steady = {(int(a), int(b)): int(c) for (a, b), c in zip(keys, counts, strict=True)}

    def _cells(self, triggers: Sequence[Trigger]) -> list[tuple[int, int]]:
        x, y = self._proj.forward(
            np.array([t.lat_deg for t in triggers]), np.array([t.lon_deg for t in triggers])
        )
        cx, cy = np.floor(x / CELL_KM).astype(int), np.floor(y / CELL_KM).astype(int)
        return list(zip(cx.tolist(), cy.tolist(), strict=True))

    def update(self, triggers: Sequence[Trigger], now_s: float) -> list[EventEstimate]:
        if triggers:
            new = sorted(triggers, key=lambda t: t.time_s)
            self._recent.extend(zip(new, self._cells(new), strict=True))
        # The window is on trigger time; late arrivals older than the window are dropped.
        while self._recent and self._recent[0][0].time_s < now_s - WINDOW_S:
            self._recent.popleft()
        if not triggers:
            return []
        by_cell: dict[tuple[int, int], dict[str, Trigger]] = {}
        for t, c in self._recent:
            if t.time_s >= now_s - WINDOW_S:
                by_cell.setdefault(c, {})[t.device_id] = t
        active_cells = [
            c
            for c, trig in by_cell.items()
            if self._steady.get(c, 0) >= MIN_STEADY and len(trig) / self._steady[c] >= MIN_FRACTION
        ]
        if len(active_cells) < MIN_CELLS:
            return []
        pts = (np.array(active_cells, dtype=float) + 0.5) * CELL_KM
        labels = dbscan(pts, DBSCAN_EPS_KM, 1)
        changed = []
        for lab in np.unique(labels):
            members = [active_cells[i] for i in np.flatnonzero(labels == lab)]
            if len(members) < MIN_CELLS:
                continue
            trig = [t for c in members for t in by_cell[c].values()]
            ev = self._event_for(trig, now_s)
            for t in trig:
                ev.triggers.setdefault(t.trigger_id, t)
            ev.last_s = now_s
            self._locate(ev)
            est = self._estimate(ev)
            self._estimates[ev.key] = est
            changed.append(est)
        return changed

    def _event_for(self, trig: list[Trigger], now_s: float) -> _Event:
        lat = np.array([t.lat_deg for t in trig])
        lon = np.array([t.lon_deg for t in trig])
        x, y = self._proj.forward(lat, lon)
        cx, cy = float(np.mean(x)), float(np.mean(y))
        for ev in self._events.values():
            near = np.hypot(ev.x - cx, ev.y - cy) <= DBSCAN_EPS_KM
            if now_s - ev.last_s <= EVENT_LINK_S and near:
                return ev
        self._seq += 1
        ev = _Event(f"myshake-{self._seq}", cx, cy, min(t.time_s for t in trig), now_s)
        self._events[ev.key] = ev
        return ev

    def _locate(self, ev: _Event) -> None:
        trig = list(ev.triggers.values())
        x, y = self._proj.forward(
            np.array([t.lat_deg for t in trig]), np.array([t.lon_deg for t in trig])
        )
        t = np.array([t.time_s for t in trig])
        first = np.argsort(t)[: max(5, len(t) // 5)]
        start = np.array([np.mean(x[first]), np.mean(y[first]), float(t.min()) - 2.0])

        def misfit(p: np.ndarray) -> float:
            tt = np.hypot(np.hypot(x - p[0], y - p[1]), DEPTH_KM) / VP_KM_S
            return float(np.sum((t - p[2] - tt) ** 2))

        res = minimize(
            misfit,
            start,
            method="Nelder-Mead",
            options={"xatol": 0.05, "fatol": 1e-3, "maxiter": 600},
        )
        ev.x, ev.y, ev.t0 = float(res.x[0]), float(res.x[1]), float(res.x[2])

    def _estimate(self, ev: _Event) -> EventEstimate:
        lat, lon = self._proj.inverse(ev.x, ev.y)
        trig = list(ev.triggers.values())
        return make_estimate(
            ev.key,
            "myshake-2020",
            ev.t0,
            float(lat),
            float(lon),
            DEPTH_KM,
            trig,
            self._active,
            ev.detected_at_s,
            self._estimates.get(ev.key),
        )

    @property
    def events(self) -> list[EventEstimate]:
        return list(self._estimates.values())


def myshake_spec() -> MethodSpec:
    return MethodSpec(
        "myshake2020",
        MyShake2020,
        None,
        "MyShake 2020 cell rule + DBSCAN + Nelder-Mead (Kong et al. 2020)",
    )
