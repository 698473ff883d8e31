"""Streaming association: triggers in time order -> declared, growing, merging earthquakes.

Each trigger is handled once, in time order, against the data's own clock (its time):

1. **Known events first.** It joins the event whose predicted P or S arrival
   t0 + T(d, z) it fits best, within tolerance_s + tolerance_per_km_s * sigma_h, if the phone is
   within the event's reach (GMPE distance at which a phone still triggers with probability
   1e-3 for the magnitude estimate + 1). A phone already in the event counts once: its later
   triggers are dropped as duplicates.
2. **Otherwise it waits in the pool** (per H3 cell) and the detection statistic of its cell
   neighbourhood is evaluated (``detection``): k distinct triggering phones in the last W
   seconds among n active phones, against a background rate that is the larger of the
   hour-of-day rate and the local rate seen in the preceding minute (so storms and other
   long bursts raise their own bar).
3. **Wave consistency** (``declaration``). A significant neighbourhood is declared an
   earthquake only if one hypocentre explains >= min_triggers of its triggers (P or S, within
   tolerance) and the look-alike tests pass: most triggers of the span fit (storms), several
   distinct sites over >= min_aperture_km (one building), times grow with distance (bursts,
   trains), and the fitted count is significant against the noise rate seen where the wave
   could not be (storm onsets, gusts).
4. **Growth, split, merge.** Events are relocated when their trigger count has grown by
   `relocate_growth`; triggers that no longer fit (> 3 tolerances) go back to the pool where
   they may form another event; two events closer than merge_distance_km and merge_time_s
   become one (the older key survives). Events without new triggers for event_expiry_s retire.

Every decision depends only on the triggers seen so far, in time order, so feeding a stream in
one batch or in many small batches gives the same events (`detector.detect_events`).

``Associator`` runs this flow; each step has its own collaborator and module:

| step | collaborator | module |
|---|---|---|
| 1. fit to live events | ``ArrivalMatcher`` | ``matching`` |
| 2. pool and recent context | ``TriggerPool`` | ``pool`` |
| 2-3. significance and declaration | ``Declarer`` | ``declaration`` |
| 4. relocation and split | ``Relocator`` | ``relocation`` |
| magnitude, silent phones, reach | ``EventSizer`` | ``sizing`` |
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from crowdquake.domain import detection as stat
from crowdquake.domain.declaration import Declarer
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.events import EventState, TriggerRecord
from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.matching import ArrivalMatcher
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.pool import TriggerPool
from crowdquake.domain.relocation import Relocator
from crowdquake.domain.sizing import EventSizer
from crowdquake.domain.traveltime import TravelTimeModel
from crowdquake.domain.types import MagnitudeEstimate, Phase


class Associator:
    """Incremental state: the live and retired events; the pool lives in ``TriggerPool``."""

    def __init__(
        self,
        params: DetectionParams,
        background: stat.BackgroundRates,
        model: TravelTimeModel,
        devices: DeviceIndex,
    ) -> None:
        self.p = params
        self.background = background
        self.model = model
        self.events: dict[str, EventState] = {}
        self.retired: list[EventState] = []
        self.seen: set[str] = set()
        self.clock_s = -math.inf
        self.stats = {"examined": 0, "checks": 0, "relocations": 0}
        self.pool = TriggerPool(params, self.stats)
        self.matcher = ArrivalMatcher(params, model)
        self.sizer = EventSizer(params, background, model, devices)
        self.relocator = Relocator(params, model, self.sizer, self.stats)
        self.declarer = Declarer(params, background, model, devices, self.pool, self.stats)
        self._devices = devices

    @property
    def devices(self) -> DeviceIndex:
        """The active phones (denominators); replaced whenever the active set changes."""
        return self._devices

    @devices.setter
    def devices(self, devices: DeviceIndex) -> None:
        self._devices = devices
        self.sizer.devices = devices
        self.declarer.devices = devices

    @property
    def device_recent(self) -> Counter[str]:
        """Triggers per phone over the recent context span (``TriggerPool``)."""
        return self.pool.device_recent

    # --- entry point ----------------------------------------------------------------------
    def process(self, rec: TriggerRecord) -> None:
        """Handle one trigger, in time order (each trigger id once).

        The trigger joins the live event whose predicted arrival it fits best (the event is
        relocated when it has grown enough); a later trigger of a phone already in that event
        is dropped; any other trigger is pooled, and its neighbourhood is tested for a new
        declaration, which is then adopted (reach, pool sweep, relocation, merge).
        """
        tid = rec.trigger.trigger_id
        if tid in self.seen:
            return  # idempotent: a redelivered trigger changes nothing
        self.seen.add(tid)
        self.clock_s = max(self.clock_s, rec.time_s)
        self.expire(self.clock_s)
        self.pool.remember(rec, self.clock_s)
        # a phone that triggers is alive: count it even without a fresh heartbeat
        self.devices.add_device(rec.trigger.device_id, rec.device_cell or rec.cell)
        best = self.matcher.best_event(self.events.values(), rec)
        if best is not None:
            ev, phase, res = best
            if ev is not None:
                ev.add(rec, phase, res)
                self._maybe_relocate(ev, self.clock_s)
            return  # joined, or a duplicate phone of an event
        self.pool.add(rec, self.clock_s)
        declared = self.declarer.detect(rec)
        if declared is not None:
            self._adopt(declared, rec.time_s)

    def _adopt(self, ev: EventState, now_s: float) -> None:
        """Make a newly declared event live: reach, pooled triggers that fit, relocation."""
        self.events[ev.key] = ev
        self._update_reach(ev, now_s)
        self._sweep_pool(ev)
        self._maybe_relocate(ev, now_s)
        if ev.key in self.events:
            # a second declaration of a known earthquake (from another neighbourhood)
            self._merge_into_older(ev, now_s)

    def _sweep_pool(self, ev: EventState) -> None:
        """Give the new event the pooled triggers (anywhere) that fit it."""
        for r in self.pool.in_time_order():
            if r.assigned or r.time_s < ev.origin_time_s:
                continue
            fit = self.matcher.fit(ev, r)
            if fit is not None and r.trigger.device_id not in ev.devices:
                ev.add(r, fit[0], fit[1])

    # --- relocation, magnitude, merge -----------------------------------------------------
    def _maybe_relocate(self, ev: EventState, now_s: float) -> None:
        n = len(ev.members)
        if n < max(ev.n_at_relocation * self.p.relocate_growth, ev.n_at_relocation + 1):
            return
        self.relocate(ev, now_s)

    def relocate(self, ev: EventState, now_s: float) -> None:
        """Relocate ``ev`` (``Relocator``), then refresh its magnitude and reach and merge it
        into an older event it now duplicates."""
        if not self.relocator.relocate(ev, now_s):
            return
        self._update_reach(ev, now_s)
        self._merge_into_older(ev, now_s)

    def magnitude(
        self,
        ev: EventState,
        now_s: float,
        mask: np.ndarray | None = None,
        trusted_cell_weight: dict[str, float] | None = None,
        stated: bool = True,
        marginal: bool | None = None,
    ) -> MagnitudeEstimate | None:
        """``EventSizer.magnitude``: members and the phones passed in silence by ``now_s``."""
        return self.sizer.magnitude(ev, now_s, mask, trusted_cell_weight, stated, marginal)

    def model_radius_km(self, ev: EventState, at_s: float, phase: Phase) -> float:
        """``EventSizer.model_radius_km``: radius the wave has surely covered at ``at_s``."""
        return self.sizer.model_radius_km(ev, at_s, phase)

    def _update_reach(self, ev: EventState, now_s: float) -> None:
        ev.magnitude = self.sizer.magnitude(ev, now_s, stated=False)
        ev.reach_km = self.sizer.reach_km(ev.magnitude)

    def _merge_into_older(self, ev: EventState, now_s: float) -> None:
        """Merge ``ev`` with the oldest event within merge_distance_km and merge_time_s: the
        older key survives with the union of the phones, and is relocated."""
        for other in sorted(self.events.values(), key=lambda e: e.created_seq):
            if other is ev:
                continue
            d = float(haversine_km(ev.lat_deg, ev.lon_deg, other.lat_deg, other.lon_deg))
            if (
                d > self.p.merge_distance_km
                or abs(ev.origin_time_s - other.origin_time_s) > self.p.merge_time_s
            ):
                continue
            keep, drop = (other, ev) if other.created_seq < ev.created_seq else (ev, other)
            for m in drop.members:
                if m.record.trigger.device_id not in keep.devices:
                    keep.add(m.record, m.phase, m.residual_s)
                else:
                    m.record.assigned = False
            drop.members = []
            drop.merged_into = keep.key
            drop.changed = True
            del self.events[drop.key]
            self.retired.append(drop)
            self.relocate(keep, now_s)
            return

    def expire(self, now_s: float) -> None:
        """Retire events without a new member for event_expiry_s (or without members)."""
        for key in [
            k
            for k, e in self.events.items()
            if now_s - e.last_member_s > self.p.event_expiry_s or not e.members
        ]:
            self.retired.append(self.events.pop(key))
