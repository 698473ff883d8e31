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


def _quiet_then(burst: np.ndarray, seed: int, noise_ms2: float = 0.005) -> np.ndarray:
    """40 s of a resting, tilted phone (gravity + white noise) with ``burst`` added from 30 s."""
    from edge_model.data.phone import rotation_matrix, world_to_device

    rng = np.random.default_rng(seed)
    n = burst.shape[1]
    world = burst + rng.normal(0.0, noise_ms2, (3, n))
    world[2] += 9.81
    return world_to_device(world, rotation_matrix(0.3, 0.2, 0.1))


def _shaking(n: int, amp_ms2: float) -> np.ndarray:
    t = np.arange(n) / MODEL_RATE_HZ
    env = np.where(t >= 30.0, np.exp(-((t - 33.0) ** 2) / 4.0), 0.0)
    burst = np.zeros((3, n))
    burst[0] = amp_ms2 * env * np.sin(2 * np.pi * 3.0 * t)
    burst[1] = 0.7 * amp_ms2 * env * np.sin(2 * np.pi * 2.3 * t + 1.0)
    return burst


def test_confirmation_checks_floor_and_orientation(pipeline: PhonePipeline) -> None:
    """The same shaking passes; below the floor or with the phone turning by 5° it does not."""
    n = int(40 * MODEL_RATE_HZ)
    data = _quiet_then(_shaking(n, 0.5), seed=1)
    onsets, hp = pipeline.pre_triggers(data, MODEL_RATE_HZ)
    assert onsets.size >= 1
    o = int(onsets[0])
    end = o + 3 * int(MODEL_RATE_HZ)
    pga = float(np.sqrt(np.sum(hp[:, o:end] ** 2, axis=0)).max())
    assert pipeline.confirms(data, o, o - 25, end, pga)
    assert not pipeline.confirms(data, o, o - 25, end, 0.5 * pipeline.config.min_pga_ms2)
    # A posture change: gravity moves by 9.81·sin(5°) = 0.86 m/s² across the axes.
    turned = data.copy()
    turned[:, o:] += np.array([[0.86], [0.0], [-0.04]])
    assert not pipeline.confirms(turned, o, o - 25, end, pga)


def test_steadiness_gate_tells_table_from_pocket(pipeline: PhonePipeline) -> None:
    """Body motion of a still person (0.06 m/s² rms from the start) blocks the pre-trigger; the
    same shaking on a resting phone passes."""
    n = int(40 * MODEL_RATE_HZ)
    rng = np.random.default_rng(4)
    shaking = _shaking(n, 0.5)
    on_table, _ = pipeline.pre_triggers(_quiet_then(shaking, seed=2), MODEL_RATE_HZ)
    assert on_table.size >= 1
    # Sway: low-frequency body motion that grows from table-quiet to 0.06 m/s² rms.
    t = np.arange(n) / MODEL_RATE_HZ
    sway = np.stack([np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (0.9, 1.3, 1.7)])
    sway *= 0.06 * np.clip(t / 10.0 - 1.0, 0.0, 1.0)
    in_pocket, _ = pipeline.pre_triggers(_quiet_then(shaking + sway, seed=2), MODEL_RATE_HZ)
    assert on_table.max() >= 29 * MODEL_RATE_HZ
    assert not np.any(in_pocket >= 29 * MODEL_RATE_HZ)


def test_a_phone_moving_from_the_start_has_no_resting_level(pipeline: PhonePipeline) -> None:
    """A stream that starts in motion (1.5 m/s² rms, e.g. hands washed beside the phone) must
    not count its own quietest 10 s as a resting level: a jolt in it never pre-triggers. A
    coarse sensor resting at 0.06 m/s² (above the absolute limit) still does."""
    from crowdquake.edge import PipelineConfig

    n = int(40 * MODEL_RATE_HZ)
    rng = np.random.default_rng(5)
    shaking = _shaking(n, 6.0)
    moving = _quiet_then(shaking, seed=3) + rng.normal(0.0, 1.5 / np.sqrt(3), (3, n))
    assert pipeline.pre_triggers(moving, MODEL_RATE_HZ)[0].size == 0
    uncapped = PhonePipeline(pipeline.model, PipelineConfig(steady_floor_max_ms2=float("inf")))
    assert uncapped.pre_triggers(moving, MODEL_RATE_HZ)[0].size >= 1  # the former loophole
    coarse = _quiet_then(_shaking(n, 0.5), seed=3, noise_ms2=0.06 / np.sqrt(3))
    assert pipeline.pre_triggers(coarse, MODEL_RATE_HZ)[0].max() >= 29 * MODEL_RATE_HZ
