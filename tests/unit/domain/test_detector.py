"""The streaming detector end to end on synthetic, physically grounded scenarios."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from crowdquake.domain.detector import StreamingDetector, detect_events
from crowdquake.domain.events import EventState
from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import ActiveDevices, EventEstimate, Trigger

T0 = 1_700_000_000.0  # same epoch as the synth fixture (conftest.T0)


def stream(
    det: StreamingDetector, triggers: Sequence[Trigger], t_end: float, step_s: float = 0.5
) -> dict[str, EventEstimate]:
    """Feed triggers in time order, in batches every ``step_s``; first estimate per key."""
    trig = sorted(triggers, key=lambda t: t.time_s)
    first: dict[str, EventEstimate] = {}
    now = trig[0].time_s if trig else T0
    i = 0
    while now < t_end:
        now += step_s
        batch = []
        while i < len(trig) and trig[i].time_s <= now:
            batch.append(trig[i])
            i += 1
        for ev in det.update(batch, now):
            first.setdefault(ev.event_key, ev)
    return first


def _detector(sc: Any) -> StreamingDetector:
    det = StreamingDetector()
    det.set_active_devices(sc.devices)
    return det


def _quake_at(
    synth: SimpleNamespace, sc: Any, x_km: float, y_km: float, t_s: float, magnitude: float
) -> Any:
    lat, lon = sc.proj.inverse(x_km, y_km)
    return synth.Quake(float(lat), float(lon), 8.0, t_s, magnitude)


def test_detects_locates_and_sizes_one_event(town: Any, synth: SimpleNamespace) -> None:
    rng = np.random.default_rng(1)
    q = _quake_at(synth, town, 10.0, -5.0, T0 + 60.0, 4.8)
    trig = synth.quake_triggers(rng, town, q, "q") + synth.noise_triggers(
        rng, town, 0.2, t_from=T0, t_to=T0 + 180.0
    )
    det = _detector(town)
    first = stream(det, trig, T0 + 180.0)
    assert len(first) == 1 and len(det.events) == 1
    ev = det.events[0]
    key = next(iter(first))
    assert ev.event_key == key  # stable across all updates
    assert first[key].detected_at_s - q.origin_time_s < 5.0
    h = ev.hypocenter
    assert float(haversine_km(h.lat_deg, h.lon_deg, q.lat_deg, q.lon_deg)) < 2.0
    assert abs(h.origin_time_s - q.origin_time_s) < 0.5
    assert ev.magnitude is not None and abs(ev.magnitude.magnitude - 4.8) < 0.3
    assert ev.confirmed
    quake_ids = {t.trigger_id for t in trig if t.trigger_id.startswith("q-")}
    associated = {a.trigger_id for a in ev.associations}
    assert len(associated & quake_ids) > 0.9 * len(quake_ids)
    assert len(associated - quake_ids) < 0.01 * len(associated) + 3  # few noise triggers


def test_batch_and_incremental_give_the_same_events(town: Any, synth: SimpleNamespace) -> None:
    rng = np.random.default_rng(2)
    q = _quake_at(synth, town, -20.0, 15.0, T0 + 40.0, 4.2)
    trig = synth.quake_triggers(rng, town, q, "q") + synth.noise_triggers(
        rng, town, 0.2, t_from=T0, t_to=T0 + 90.0
    )
    det = _detector(town)
    stream(det, trig, T0 + 90.0, step_s=1.0)
    batch = detect_events(trig, town.devices, det_now := T0 + 90.0 + 0.0)
    inc = det.events
    assert det_now > 0
    assert [e.event_key for e in batch] == [e.event_key for e in inc]
    for a, b in zip(batch, inc, strict=True):
        assert a.associations == b.associations
        np.testing.assert_equal(astuple(a.hypocenter), astuple(b.hypocenter))  # NaN-aware
        assert a.magnitude == b.magnitude


def test_two_simultaneous_events_are_separated(town: Any, synth: SimpleNamespace) -> None:
    rng = np.random.default_rng(3)
    qa = _quake_at(synth, town, -30.0, 0.0, T0 + 50.0, 4.5)
    qb = _quake_at(synth, town, 30.0, 5.0, T0 + 50.5, 4.5)
    trig = (
        synth.quake_triggers(rng, town, qa, "a")
        + synth.quake_triggers(rng, town, qb, "b")
        + synth.noise_triggers(rng, town, 0.2, t_from=T0, t_to=T0 + 120.0)
    )
    det = _detector(town)
    stream(det, trig, T0 + 120.0)
    assert len(det.events) == 2
    for q, tag in ((qa, "a-"), (qb, "b-")):
        dist = [
            float(haversine_km(e.hypocenter.lat_deg, e.hypocenter.lon_deg, q.lat_deg, q.lon_deg))
            for e in det.events
        ]
        ev = det.events[int(np.argmin(dist))]
        assert min(dist) < 3.0
        mine = sum(a.trigger_id.startswith(tag) for a in ev.associations)
        assert mine > 0.8 * ev.n_triggers  # each event is mostly its own triggers


def test_pure_noise_declares_nothing_and_update_is_incremental(
    town: Any, synth: SimpleNamespace
) -> None:
    rng = np.random.default_rng(4)
    trig = synth.noise_triggers(rng, town, 0.2, t_from=T0, t_to=T0 + 1200.0)  # ~1,300 triggers
    det = _detector(town)
    examined: list[int] = []
    seen: dict[str, EventEstimate] = {}
    batches = np.array_split(np.array(sorted(trig, key=lambda t: t.time_s), dtype=object), 240)
    for k, b in enumerate(batches):
        for ev in det.update(list(b), T0 + 5.0 * (k + 1)):
            seen[ev.event_key] = ev
        examined.append(det.last_update_stats["examined"])
    assert not seen
    # work per update does not grow with the stream's history: the last 50 updates look at
    # no more triggers than the first 50 (bounded by the pool retention, not by history)
    assert np.mean(examined[-50:]) <= 2 * np.mean(examined[10:60]) + 5


def test_duplicates_and_clock_outliers(town: Any, synth: SimpleNamespace) -> None:
    rng = np.random.default_rng(5)
    q = _quake_at(synth, town, 0.0, 0.0, T0 + 30.0, 4.5)
    trig = synth.quake_triggers(rng, town, q, "q")
    dup = [
        Trigger(t.trigger_id + "-again", t.device_id, t.time_s + 1.0, t.lat_deg, t.lon_deg)
        for t in trig[:200]
    ]
    bad = Trigger("bad-clock", "phone-x", q.origin_time_s + 25.0, q.lat_deg, q.lon_deg)
    det = _detector(town)
    stream(det, [*trig, *dup, bad], T0 + 90.0)
    assert len(det.events) == 1
    ids = [a.trigger_id for a in det.events[0].associations]
    assert not any(i.endswith("-again") for i in ids)  # one phone counts once per event
    assert "bad-clock" not in ids
    assert len(ids) == len(set(ids))


def _building(rng: np.random.Generator, sc: Any) -> list[Trigger]:
    """40 phones in one building (within ~30 m) shaking together for 3 s."""
    lat0, lon0 = sc.proj.inverse(5.0, 5.0)
    return [
        Trigger(
            f"b{i}",
            f"bd{i}",
            T0 + 100 + rng.uniform(0, 3),
            float(lat0 + rng.normal(0, 0.0003)),
            float(lon0 + rng.normal(0, 0.0003)),
            pga_ms2=0.2,
        )
        for i in range(40)
    ]


def _train(rng: np.random.Generator, sc: Any) -> list[Trigger]:
    """Phones within 300 m of a straight track trigger as a 30 m/s train passes them."""
    out = []
    for i in np.nonzero(np.abs(sc.y_km - 3.0) < 0.3)[0]:
        x = sc.x_km[i]
        if -40 < x < 40:
            out.append(
                Trigger(
                    f"t{i}",
                    sc.devices.device_ids[i],
                    T0 + 60 + (x + 40) / 0.03 + rng.normal(0, 0.5),
                    float(sc.devices.lat_deg[i]),
                    float(sc.devices.lon_deg[i]),
                    pga_ms2=0.11,
                )
            )
    return out


def _storm(rng: np.random.Generator, sc: Any) -> list[Trigger]:
    """Wind storm: every phone within 40 km triggers at 20 per hour (100x background) for
    two minutes, at random times, starting abruptly."""
    out = []
    for i in np.nonzero(np.hypot(sc.x_km - 10, sc.y_km) < 40)[0]:
        for j in range(rng.poisson(20 * 120 / 3600)):
            out.append(
                Trigger(
                    f"s{i}-{j}",
                    sc.devices.device_ids[i],
                    T0 + 60 + rng.uniform(0, 120),
                    float(sc.devices.lat_deg[i]),
                    float(sc.devices.lon_deg[i]),
                    pga_ms2=0.12,
                )
            )
    return out


@pytest.mark.parametrize("make", [_building, _train, _storm], ids=["building", "train", "storm"])
def test_lookalikes_without_moveout_are_rejected(
    town: Any, synth: SimpleNamespace, make: object
) -> None:
    rng = np.random.default_rng(6)
    trig = make(rng, town) + synth.noise_triggers(rng, town, 0.2, t_from=T0, t_to=T0 + 300.0)  # type: ignore[operator]
    det = _detector(town)
    first = stream(det, trig, max(t.time_s for t in trig) + 20.0, step_s=1.0)
    assert not first, f"{len(first)} false events"


def test_triggers_only_without_heartbeats_still_detect(town: Any, synth: SimpleNamespace) -> None:
    """A replay with no heartbeat data: phones that trigger are counted as active phones."""
    rng = np.random.default_rng(7)
    q = _quake_at(synth, town, 5.0, 5.0, T0 + 60.0, 4.6)
    trig = synth.quake_triggers(rng, town, q, "q") + synth.noise_triggers(
        rng, town, 0.2, t_from=T0, t_to=T0 + 120.0
    )
    events = detect_events(trig, ActiveDevices.empty(), T0 + 120.0)
    assert len(events) == 1
    h = events[0].hypocenter
    assert float(haversine_km(h.lat_deg, h.lon_deg, q.lat_deg, q.lon_deg)) < 3.0


def test_close_events_merge_into_the_older_key(town: Any, synth: SimpleNamespace) -> None:
    """Two declarations of one earthquake (e.g. from two neighbourhoods) become one event:
    the older key survives and the other is reported once with ``merged_into``."""
    rng = np.random.default_rng(8)
    q = _quake_at(synth, town, 0.0, 0.0, T0 + 30.0, 4.4)
    trig = synth.quake_triggers(rng, town, q, "q")
    det = _detector(town)
    stream(det, trig, T0 + 60.0)
    assert len(det.events) == 1
    keep = det.events[0].event_key
    assoc = det._assoc  # white box: inject a second declaration 3 km away, same origin
    first = assoc.events[keep]
    dup = EventState(
        key="eq-duplicate",
        origin_time_s=first.origin_time_s + 0.3,
        lat_deg=first.lat_deg + 0.027,
        lon_deg=first.lon_deg,
        depth_km=8.0,
        detected_at_s=T0 + 40.0,
        detection_log10_p=-12.0,
        created_seq=first.created_seq + 1,
    )
    stolen = first.members[-20:]
    first.set_members(first.members[:-20])
    for m in stolen:
        dup.add(m.record, m.phase, m.residual_s)
    assoc.events[dup.key] = dup
    assoc.relocate(dup, T0 + 60.0)
    det.update([], T0 + 61.0)
    assert [e.event_key for e in det.events] == [keep]
    assert det.retired_keys == ["eq-duplicate"]
    assert assoc.retired[-1].merged_into == keep
    ids = {a.trigger_id for a in det.events[0].associations}
    assert {m.record.trigger.trigger_id for m in stolen} <= ids


def test_unusable_triggers_are_skipped_not_fatal(town: Any) -> None:
    det = _detector(town)
    bad = [
        Trigger("nan-time", "p1", float("nan"), 35.0, -118.0),
        Trigger("off-earth", "p2", T0, 95.0, -118.0),
        Trigger("nan-lon", "p3", T0, 35.0, float("nan")),
    ]
    assert det.update(bad, T0 + 1.0) == []
    assert det.last_update_stats["n_rejected"] == 3


def test_empty_or_tiny_events_neither_relocate_nor_linger(town: Any) -> None:
    """Regression: merging into an event left with no members crashed the solver."""
    det = _detector(town)
    assoc = det._assoc
    ev = EventState(
        key="eq-empty",
        origin_time_s=T0,
        lat_deg=35.0,
        lon_deg=-118.0,
        depth_km=8.0,
        detected_at_s=T0,
        detection_log10_p=-12.0,
    )
    assoc.events[ev.key] = ev
    assoc.relocate(ev, T0 + 1.0)  # no members: keeps its last solution, no exception
    assert ev.lat_deg == 35.0
    det.update([], T0 + 2.0)
    assert det.events == [] and "eq-empty" in det.retired_keys
