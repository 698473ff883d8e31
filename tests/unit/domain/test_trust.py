"""Device trust, diversity caps and the hold policy of ``domain.evidence``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from crowdquake.domain.detector import StreamingDetector
from crowdquake.domain.evidence import HOLD_LOW_TRUST
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.trust import DeviceProfile, capped_evidence, device_trust
from crowdquake.sim.attacks import AttackSpec, build_attack


def test_trust_grows_with_age_and_heartbeats_and_falls_with_rejections() -> None:
    ages = [0.0, 29.9, 30.0, 45.0, 60.0, 90.0, 400.0]
    trust = [device_trust(a, a) for a in ages]
    assert trust[:3] == [0.0, 0.0, 0.0]  # probation
    assert all(b >= a for a, b in itertools.pairwise(trust))
    assert trust[-1] == 1.0
    assert device_trust(400.0, 1.0) < device_trust(400.0, 14.0)
    assert device_trust(400.0, 400.0, 0, 3) < device_trust(400.0, 400.0, 0, 1) < 1.0


def test_one_network_or_one_burst_is_one_witness() -> None:
    n = 1000
    nets = [f"n{i % 32}" for i in range(n)]
    assert capped_evidence(np.ones(n), nets, ["b"] * n, 1.0, 1.0) == pytest.approx(1.0)
    assert capped_evidence(
        np.ones(n), nets, [f"b{i}" for i in range(n)], 1.0, 1.0
    ) == pytest.approx(32.0)
    # honest phones: distinct networks and bursts count fully
    assert capped_evidence(np.ones(8), [str(i) for i in range(8)], [""] * 8, 1.0, 1.0) == 8.0


def _stream(det: StreamingDetector, scenario) -> list:  # type: ignore[no-untyped-def]
    tab = scenario.triggers
    out = []
    t, i = scenario.start_s, 0
    while t < scenario.end_s:
        t += 0.5
        j = int(np.searchsorted(tab.received_s, t, side="right"))
        out += det.update(tab.to_triggers(i, j, scenario.name), t)
        i = j
    return [e for e in out if e.merged_into is None]


def test_fresh_phones_forging_a_moveout_are_held_and_open_detector_would_not_hold() -> None:
    # fake phones that also send heartbeats (so they count as active phones)
    sc = build_attack(AttackSpec("heartbeats", 0, 64, False, 3))
    det = StreamingDetector(DetectionParams())
    det.set_devices(sc.active, sc.profiles)
    held = _stream(det, sc)
    assert held, "the forged moveout must still be detected as a pattern"
    assert all(e.trust is not None and e.trust.hold_reason == HOLD_LOW_TRUST for e in held)
    # without trust profiles (every phone trusted) the same attack is not held
    open_det = StreamingDetector(DetectionParams())
    open_det.set_active_devices(sc.active)
    opened = _stream(open_det, sc)
    assert any(e.trust is not None and not e.trust.held for e in opened)


def test_a_trusted_profile_missing_means_no_trust() -> None:
    from crowdquake.domain.devices import DeviceIndex
    from crowdquake.domain.types import ActiveDevices

    idx = DeviceIndex(
        ActiveDevices(("a", "b"), np.array([34.0, 34.0]), np.array([-118.0, -118.0])),
        6,
        {"a": DeviceProfile(0.7, "n1", "b1")},
    )
    assert idx.profile("a").trust == 0.7 and idx.profile("b").trust == 0.0
    assert float(idx.trusted_counts.sum()) == 0.7
