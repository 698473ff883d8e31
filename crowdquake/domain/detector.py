"""Public entry point of the detection science: a streaming detector and its batch twin.

``StreamingDetector`` keeps the incremental state (``association.Associator``); the services
feed it triggers in time order in small batches and publish what ``update`` returns.
``detect_events`` builds a fresh detector and feeds it everything, so a worker can rebuild the
same state (same ``event_key`` values) from the database after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from crowdquake.domain.association import Associator
from crowdquake.domain.cells import cell_of
from crowdquake.domain.detection import BackgroundRates
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState, TriggerRecord
from crowdquake.domain.evidence import assess_event
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.traveltime import HomogeneousModel, TravelTimeModel
from crowdquake.domain.trust import DeviceProfile
from crowdquake.domain.types import (
    ActiveDevices,
    EventEstimate,
    Hypocenter,
    Trigger,
)


class StreamingDetector:
    """Incremental earthquake detector over one region's trigger stream.

    Triggers must be fed in (roughly) time order; within a batch they are sorted by
    (time_s, trigger_id). ``now_s`` is the data clock (server time of the update) and only
    affects outputs (magnitude from silent phones) and expiry, never association decisions.
    """

    def __init__(
        self,
        params: DetectionParams | None = None,
        background: BackgroundRates | None = None,
        model: TravelTimeModel | None = None,
    ) -> None:
        self.params = params or DetectionParams()
        self.background = background or BackgroundRates.prior(
            self.params.background_rate_per_device_hour,
            self.params.background_prior_device_hours,
        )
        self.model: TravelTimeModel = model or HomogeneousModel(
            self.params.vp_km_s, self.params.vs_km_s
        )
        self._profiles: Mapping[str, DeviceProfile] | None = None
        self._active = ActiveDevices.empty()
        self._devices = DeviceIndex(ActiveDevices.empty(), self.params.h3_resolution)
        self._assoc = Associator(self.params, self.background, self.model, self._devices)
        self._estimates: dict[str, EventEstimate] = {}
        self.last_update_stats: dict[str, int] = {}

    def set_active_devices(self, devices: ActiveDevices) -> None:
        """Replace the active-phone denominators (per-cell counts are precomputed here)."""
        self._active = devices
        self._devices = DeviceIndex(devices, self.params.h3_resolution, self._profiles)
        self._assoc.devices = self._devices

    def set_device_profiles(self, profiles: Mapping[str, DeviceProfile] | None) -> None:
        """Trust, network and registration burst per device (``domain.trust``).

        Without profiles every phone counts as trusted and independent (offline studies);
        with them, a device missing from the mapping has trust 0.
        """
        self.set_devices(self._active, profiles)

    def set_devices(
        self, devices: ActiveDevices, profiles: Mapping[str, DeviceProfile] | None
    ) -> None:
        """``set_device_profiles`` and ``set_active_devices`` in one index build."""
        self._profiles = profiles
        self.set_active_devices(devices)

    @property
    def n_active_devices(self) -> int:
        return self._devices.n_devices

    def update(self, triggers: Sequence[Trigger], now_s: float) -> list[EventEstimate]:
        """Feed new triggers (time order, small batches). Returns the events created or changed
        by this update (a merged-away event is returned once with ``merged_into`` set)."""
        before = dict(self._assoc.stats)
        n_retired = len(self._assoc.retired)
        res = self.params.h3_resolution
        valid = [t for t in triggers if _usable(t)]
        for tr in sorted(valid, key=lambda t: (t.time_s, t.trigger_id)):
            cell = cell_of(tr.lat_deg, tr.lon_deg, res)
            rec = TriggerRecord(
                tr,
                cell,
                tr.received_s if tr.received_s is not None else tr.time_s,
                device_cell=self._devices.cell_of_device.get(tr.device_id, cell),
            )
            self._assoc.process(rec)
        self._assoc.expire(max(now_s, self._assoc.clock_s))
        out: list[EventEstimate] = []
        for ev in self._assoc.retired[n_retired:]:
            self._estimates.pop(ev.key, None)
            if ev.merged_into is not None:
                out.append(self._estimate(ev, now_s))
        for ev in sorted(self._assoc.events.values(), key=lambda e: e.created_seq):
            old = self._estimates.get(ev.key)
            est = self._estimate(ev, now_s)
            self._estimates[ev.key] = est
            mag_moved = (
                old is None
                or old.magnitude is None
                or est.magnitude is None
                or abs(old.magnitude.magnitude - est.magnitude.magnitude) >= 0.05
            )
            if ev.changed or mag_moved:
                out.append(est)
            ev.changed = False
        self.last_update_stats = {
            "n_triggers": len(triggers),
            "n_rejected": len(triggers) - len(valid),
            **{k: v - before.get(k, 0) for k, v in self._assoc.stats.items()},
        }
        return out

    @property
    def events(self) -> list[EventEstimate]:
        """All current (not expired, not merged) events, oldest first."""
        return [
            self._estimates[e.key]
            for e in sorted(self._assoc.events.values(), key=lambda e: e.created_seq)
            if e.key in self._estimates
        ]

    @property
    def retired_keys(self) -> list[str]:
        """Keys of events that expired or were merged, in retirement order."""
        return [e.key for e in self._assoc.retired]

    def _estimate(self, ev: EventState, now_s: float) -> EventEstimate:
        mag = self._assoc.magnitude(ev, now_s) if ev.members else ev.magnitude
        lat, lon, _, _ = ev.member_arrays()
        radius = float(np.max(ev.distances_km(lat, lon))) if lat.size else 0.0
        idx = self._devices.cells_within(ev.lat_deg, ev.lon_deg, max(radius, 30.0))
        n_active = int(self._devices.counts[idx].sum()) if idx.size else 0
        hypo = Hypocenter(
            origin_time_s=ev.origin_time_s,
            lat_deg=ev.lat_deg,
            lon_deg=ev.lon_deg,
            depth_km=ev.depth_km,
            horizontal_uncertainty_km=ev.horizontal_uncertainty_km,
            depth_uncertainty_km=ev.depth_uncertainty_km,
            origin_time_uncertainty_s=ev.origin_time_uncertainty_s,
            depth_fixed=ev.depth_fixed,
        )
        assoc = tuple(ev.associations)  # in association order
        trust = assess_event(self._assoc, ev, mag, now_s) if ev.members else None
        return EventEstimate(
            event_key=ev.key,
            hypocenter=hypo,
            magnitude=mag,
            associations=assoc,
            n_active=max(n_active, len(ev.members)),
            detection_log10_p=ev.detection_log10_p,
            detected_at_s=ev.detected_at_s,
            confirmed=len(ev.members) >= self.params.confirm_min_triggers,
            method=self.params.method,
            merged_into=ev.merged_into,
            trust=trust,
        )


def _usable(t: Trigger) -> bool:
    """Finite time and a position on Earth (the API validates; this guards replays)."""
    return (
        math.isfinite(t.time_s)
        and math.isfinite(t.lat_deg)
        and math.isfinite(t.lon_deg)
        and -90.0 <= t.lat_deg <= 90.0
        and -180.0 <= t.lon_deg <= 180.0
    )


def detect_events(
    triggers: Sequence[Trigger],
    devices: ActiveDevices,
    now_s: float,
    params: DetectionParams | None = None,
    background: BackgroundRates | None = None,
) -> list[EventEstimate]:
    """Stateless convenience: a fresh detector fed everything; deterministic, so a server can
    rebuild state. Returns the current (not expired) events at ``now_s``."""
    det = StreamingDetector(params, background)
    det.set_active_devices(devices)
    det.update(triggers, now_s)
    return det.events
