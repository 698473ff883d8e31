"""PhonePipeline: fires on a synthetic earthquake, stays quiet on walking and on noise."""

from __future__ import annotations

import numpy as np
import pytest

from crowdquake.edge import EdgeModel, PhonePipeline
from edge_model.data.dataset import MODEL_RATE_HZ, phone_trace
from edge_model.data.human import ACTIVITIES
from edge_model.data.phone import resting_orientation
from edge_model.data.quake import BASE_RATE_HZ, random_scenario, simulate_quake


@pytest.fixture(scope="module")
def pipeline() -> PhonePipeline:
    return PhonePipeline(EdgeModel.load())


def _resting_with_quake(
    seed: int, magnitude: float, distance_km: float
) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    rec = simulate_quake(
        rng, random_scenario(rng, magnitude, distance_km), pre_p_s=30.0, post_s_s=20.0
    )
    ambient, _ = ACTIVITIES["still"](rng, rec.acc_enu_ms2.shape[1], BASE_RATE_HZ)
    trace = phone_trace(rng, rec.acc_enu_ms2 + ambient, resting_orientation(rng), 50.0)
    return trace, rec.p_onset / BASE_RATE_HZ


@pytest.mark.parametrize(
    ("seed", "magnitude", "distance_km"), [(1, 6.0, 20.0), (2, 5.0, 10.0), (3, 7.0, 80.0)]
)
def test_fires_on_a_synthetic_quake(
    pipeline: PhonePipeline, seed: int, magnitude: float, distance_km: float
) -> None:
    trace, p_s = _resting_with_quake(seed, magnitude, distance_km)
    triggers = pipeline.process(trace, MODEL_RATE_HZ)
    assert triggers, "no trigger on a felt earthquake"
    first = triggers[0]
    # Triggers come at the P or S arrival, not before the earthquake.
    assert p_s - 0.5 <= first.trigger_time_s <= p_s + distance_km / 3.5
    assert first.score >= pipeline.threshold and first.pga_ms2 > 0.03


def test_quiet_on_walking(pipeline: PhonePipeline) -> None:
    rng = np.random.default_rng(11)
    n = int(30 * BASE_RATE_HZ)
    still, rot = ACTIVITIES["still"](rng, n, BASE_RATE_HZ)
    parts = [phone_trace(rng, still, rot, 50.0)]
    for _ in range(5):  # rest -> walk -> rest ...: the walk onsets reach the classifier
        acc, rot_w = ACTIVITIES["walking"](rng, int(60 * BASE_RATE_HZ), BASE_RATE_HZ)
        parts.append(phone_trace(rng, acc, rot_w, 50.0))
        acc, rot_s = ACTIVITIES["still"](rng, n, BASE_RATE_HZ)
        parts.append(phone_trace(rng, acc, rot_s, 50.0))
    trace = np.concatenate(parts, axis=1)
    onsets, _ = pipeline.pre_triggers(trace, MODEL_RATE_HZ)
    assert onsets.size >= 1, "walking onsets should pass the pre-trigger (test would be vacuous)"
    assert pipeline.process(trace, MODEL_RATE_HZ) == []


def test_noise_never_pre_triggers(pipeline: PhonePipeline) -> None:
    rng = np.random.default_rng(5)
    acc, rot = ACTIVITIES["still"](rng, int(120 * BASE_RATE_HZ), BASE_RATE_HZ)
    onsets, _ = pipeline.pre_triggers(phone_trace(rng, acc, rot, 50.0), MODEL_RATE_HZ)
    assert onsets.size == 0


def test_phase_hint_from_gravity(pipeline: PhonePipeline) -> None:
    """A vertical onset on a tilted phone is 'P', a horizontal one 'S'."""
    rng = np.random.default_rng(3)
    n = int(40 * MODEL_RATE_HZ)
    t = np.arange(n) / MODEL_RATE_HZ
    burst = np.where(t >= 30.0, 0.5 * np.sin(2 * np.pi * 4 * t) * np.exp(-(t - 30.0)), 0.0)
    hints = []
    for axis in (2, 0):
        acc = np.zeros((3, n))
        acc[axis] = burst
        acc += rng.normal(0, 0.005, acc.shape)
        from edge_model.data.phone import rotation_matrix, world_to_device

        dev = world_to_device(acc, rotation_matrix(0.4, 0.3, -0.2))
        onsets, hp = pipeline.pre_triggers(dev, MODEL_RATE_HZ)
        assert onsets.size == 1
        hints.append(pipeline._phase_hint(dev, hp, int(onsets[0]), MODEL_RATE_HZ))
    assert hints == ["P", "S"]
