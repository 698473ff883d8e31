"""PyOcto as the peer associator (P-only settings), with our magnitude on its events.

Münchmeyer (2024), "PyOcto: A high-throughput seismic phase associator", Seismica 3(1).
PyOcto is a batch associator: here it is re-run on the triggers of the last ``LOOKBACK_S``
seconds whenever the triggers that arrived since its last run reach half of those it saw then
(at least ``MIN_PICKS``), or ``RERUN_S`` seconds passed with new triggers: a geometric schedule
that keeps the detection delay close to a rerun-every-batch associator at a fraction of the
cost. Each phone is a one-pick "station" and every pick is labelled P (phones cannot tell P
from S). Events of successive runs closer than 50 km and 5 s are the same event key.
Settings: homogeneous vp 6.1 / vs 3.55 km/s (MyShake), tolerance 1.5 s,
cutoff 250 km, >= 6 P picks, depth 0-30 km.

PyOcto's cost grows steeply with one-pick stations (measured here: 100 picks 0.08 s, 200 picks
4.4 s, 318 picks 11.3 s per run), so each streaming run sees at most ``MAX_PICKS_PER_RUN``
triggers of its window, evenly spaced in time order (a deterministic subsample); triggers it
associated in earlier runs stay with their event.

PyOcto pins numpy<2 on Python 3.11, so it lives in the optional ``[bench]`` extra; when it is
not importable the harness skips it with a note (``pyocto_spec().available``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import ActiveDevices, EventEstimate, Trigger
from crowdquake.sim.baselines.common import make_estimate
from crowdquake.sim.methods import MethodSpec

RERUN_S = 20.0
LOOKBACK_S = 90.0
MIN_PICKS = 6
MAX_PICKS_PER_RUN = 120
LINK_KM = 50.0
LINK_S = 5.0


def associate_once(
    triggers: Sequence[Trigger], n_threads: int = 1
) -> list[tuple[float, float, float, float, list[int]]]:
    """One PyOcto run: (origin_time_s, lat, lon, depth_km, trigger indices) per event."""
    import pandas as pd
    import pyocto

    if len(triggers) < MIN_PICKS:
        return []
    dev: dict[str, tuple[float, float]] = {}
    for t in triggers:
        dev.setdefault(t.device_id, (t.lat_deg, t.lon_deg))
    stations = pd.DataFrame(
        {
            "id": list(dev),
            "latitude": [v[0] for v in dev.values()],
            "longitude": [v[1] for v in dev.values()],
            "elevation": 0.0,
        }
    )
    picks = pd.DataFrame(
        {
            "station": [t.device_id for t in triggers],
            "phase": "P",
            "time": [t.time_s for t in triggers],
        }
    )
    lat = stations["latitude"].to_numpy()
    lon = stations["longitude"].to_numpy()
    vm = pyocto.VelocityModel0D(
        p_velocity=6.1, s_velocity=3.55, tolerance=1.5, association_cutoff_distance=250.0
    )
    assoc = pyocto.OctoAssociator.from_area(
        lat=(float(lat.min()) - 0.5, float(lat.max()) + 0.5),
        lon=(float(lon.min()) - 0.5, float(lon.max()) + 0.5),
        zlim=(0.0, 30.0),
        time_before=LOOKBACK_S,
        velocity_model=vm,
        n_picks=MIN_PICKS,
        n_p_picks=MIN_PICKS,
        n_s_picks=0,
        n_p_and_s_picks=0,
        n_threads=n_threads,
    )
    stations = assoc.transform_stations(stations)
    events, assignments = assoc.associate(picks, stations)
    if len(events) == 0:
        return []
    events = assoc.transform_events(events)
    out = []
    for _, ev in events.iterrows():
        rows = assignments[assignments["event_idx"] == ev["idx"]]
        out.append(
            (
                float(ev["time"]),
                float(ev["latitude"]),
                float(ev["longitude"]),
                float(ev["depth"]),
                [int(i) for i in rows["pick_idx"]],
            )
        )
    return out


class PyOctoStream:
    def __init__(self) -> None:
        self._active = ActiveDevices.empty()
        self._recent: deque[Trigger] = deque()
        self._last_run_s = -np.inf
        self._n_at_last_run = 0
        self._new_since_run = 0
        self._estimates: dict[str, EventEstimate] = {}
        self._members: dict[str, dict[str, Trigger]] = {}
        self._seq = 0

    def set_active_devices(self, active: ActiveDevices) -> None:
        self._active = active

    def update(self, triggers: Sequence[Trigger], now_s: float) -> list[EventEstimate]:
        self._recent.extend(triggers)
        self._new_since_run += len(triggers)
        while self._recent and self._recent[0].time_s < now_s - LOOKBACK_S:
            self._recent.popleft()
        grown = self._new_since_run >= max(MIN_PICKS, self._n_at_last_run // 2)
        timer = self._new_since_run > 0 and now_s - self._last_run_s >= RERUN_S
        if len(self._recent) < MIN_PICKS or not (grown or timer):
            return []
        self._last_run_s = now_s
        self._n_at_last_run = len(self._recent)
        self._new_since_run = 0
        trig = sorted(self._recent, key=lambda t: t.time_s)
        if len(trig) > MAX_PICKS_PER_RUN:
            keep = np.linspace(0, len(trig) - 1, MAX_PICKS_PER_RUN).round().astype(int)
            trig = [trig[i] for i in np.unique(keep)]
        changed = []
        for t0, lat, lon, depth, idx in associate_once(trig):
            key = self._key_for(t0, lat, lon)
            prev = self._estimates.get(key)
            # Keep what earlier runs associated: older triggers leave the look-back window.
            members = self._members.setdefault(key, {})
            for i in idx:
                members.setdefault(trig[i].trigger_id, trig[i])
            est = make_estimate(
                key,
                "pyocto",
                t0,
                lat,
                lon,
                depth,
                list(members.values()),
                self._active,
                prev.detected_at_s if prev else now_s,
            )
            self._estimates[key] = est
            changed.append(est)
        return changed

    def _key_for(self, t0: float, lat: float, lon: float) -> str:
        for k, e in self._estimates.items():
            h = e.hypocenter
            if (
                abs(h.origin_time_s - t0) <= LINK_S
                and float(haversine_km(h.lat_deg, h.lon_deg, lat, lon)) <= LINK_KM
            ):
                return k
        self._seq += 1
        return f"pyocto-{self._seq}"

    @property
    def events(self) -> list[EventEstimate]:
        return list(self._estimates.values())


def pyocto_spec() -> MethodSpec:
    try:
        import pyocto  # noqa: F401
    except ImportError as exc:
        note = (
            f"pyocto not importable ({exc}); install the [bench] extra in a separate venv "
            "(it pins numpy<2 on Python 3.11)"
        )
        return MethodSpec("pyocto", PyOctoStream, note)
    return MethodSpec("pyocto", PyOctoStream, None, "PyOcto P-only (Münchmeyer 2024)")
