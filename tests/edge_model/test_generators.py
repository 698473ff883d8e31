"""Physics of the synthetic data: source spectrum, attenuation, onsets, sensor, human motion."""

from __future__ import annotations

import numpy as np
import pytest

from edge_model.baseline import myshake_features
from edge_model.data.dataset import WINDOW_SAMPLES, human_windows, quake_windows
from edge_model.data.human import ACTIVITIES
from edge_model.data.phone import (
    SensorSpec,
    resting_orientation,
    rotation_matrix,
    sense,
    world_to_device,
)
from edge_model.data.quake import (
    G_MS2,
    QuakeScenario,
    corner_frequency_hz,
    fourier_acceleration_ms,
    random_scenario,
    simulate_quake,
)
from edge_model.metrics import roc_auc, threshold_at_fpr


def test_brune_corner_frequency() -> None:
    # Boore 2003 eq. 5 by hand for M5, 70 bar, 3.5 km/s: M0 = 10^23.55 dyne·cm.
    expected = 4.906e6 * 3.5 * (70 / 10**23.55) ** (1 / 3)
    assert corner_frequency_hz(5.0, 70.0, 3.5) == pytest.approx(expected)
    assert corner_frequency_hz(7.0, 70.0, 3.5) < corner_frequency_hz(5.0, 70.0, 3.5) / 9


def test_spectrum_is_omega_squared_below_corner() -> None:
    sc = QuakeScenario(magnitude=7.0, hypo_distance_km=10.0, kappa_s=0.0)
    f = np.array([0.005, 0.01])
    a = fourier_acceleration_ms(f, sc, "S")
    assert a[1] / a[0] == pytest.approx(4.0, rel=0.1)  # acceleration ~ f² below fc


def _median_pga_g(magnitude: float, distance_km: float) -> float:
    rng = np.random.default_rng(0)
    pgas = [
        np.abs(
            simulate_quake(rng, random_scenario(rng, magnitude, distance_km), 1, 10).acc_enu_ms2
        ).max()
        for _ in range(15)
    ]
    return float(np.median(pgas) / G_MS2)


def test_pga_scales_with_magnitude_and_distance() -> None:
    # Within a factor ~2.5 of NGA-West2 medians (BSSA14: M6 at 20 km ~0.1 g).
    assert 0.04 < _median_pga_g(6.0, 20.0) < 0.25
    assert _median_pga_g(6.0, 100.0) < _median_pga_g(6.0, 20.0) / 3
    assert _median_pga_g(4.0, 10.0) < _median_pga_g(5.0, 10.0) < _median_pga_g(6.0, 10.0)


def test_p_arrives_before_s_and_nothing_before_p() -> None:
    rng = np.random.default_rng(2)
    rec = simulate_quake(rng, random_scenario(rng, 6.0, 60.0), pre_p_s=5.0, post_s_s=10.0)
    assert rec.s_onset - rec.p_onset == pytest.approx((60 / 3.5 - 60 / 6.0) * rec.rate_hz, abs=1)
    assert np.all(rec.acc_enu_ms2[:, : rec.p_onset] == 0)
    p_part = rec.acc_enu_ms2[:, rec.p_onset : rec.s_onset]
    assert np.abs(p_part[2]).max() > np.abs(p_part[:2]).max()  # P is mostly vertical


def test_resting_sensor_reads_gravity_with_noise_and_quantisation() -> None:
    rng = np.random.default_rng(0)
    spec = SensorSpec(noise_ug_per_rt_hz=200.0, full_scale_g=2.0, bits=12)
    out = sense(rng, world_to_device(np.zeros((3, 5000)), rotation_matrix(0, 0, 0)), 50.0, spec)
    assert out[2].mean() == pytest.approx(G_MS2, abs=0.01)
    assert np.std(out[0]) == pytest.approx(200e-6 * G_MS2 * np.sqrt(25.0), rel=0.35)
    steps = np.unique(np.round(np.diff(np.unique(out[0])) / spec.lsb_ms2(), 6))
    assert steps.min() == pytest.approx(1.0)
    rot = resting_orientation(rng)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)


def test_walking_has_its_step_frequency() -> None:
    rng = np.random.default_rng(4)
    acc, _ = ACTIVITIES["walking"](rng, 6000, 100.0)
    spec = np.abs(np.fft.rfft(acc[2] - acc[2].mean()))
    f = np.fft.rfftfreq(6000, 0.01)
    assert 1.5 <= f[np.argmax(spec)] <= 2.3


@pytest.mark.parametrize("name", sorted(ACTIVITIES))
def test_every_activity_is_finite_and_shaped(name: str) -> None:
    acc, rot = ACTIVITIES[name](np.random.default_rng(0), 1200, 100.0)
    assert acc.shape == (3, 1200) and np.isfinite(acc).all()
    assert rot.shape in {(3, 3), (1200, 3, 3)}


def test_windows_and_split_independence() -> None:
    q, h = quake_windows(11, 5), human_windows(12, 1)
    assert q.x.shape[1:] == (3, WINDOW_SAMPLES) and h.x.shape[1:] == (3, WINDOW_SAMPLES)
    assert q.y.all() and not h.y.any()
    assert not np.allclose(quake_windows(13, 5).x[:3], q.x[:3])  # another seed, other events


def test_myshake_features() -> None:
    t = np.arange(100) / 50.0
    x = np.zeros((1, 3, 100))
    x[0, 0] = np.sin(2 * np.pi * 5 * t + 0.1)
    _, cav, zc = myshake_features(x, 50.0)[0]
    assert zc == pytest.approx(10.0, abs=0.6)  # two zero crossings per cycle
    assert 10**cav == pytest.approx(2 * 2 / np.pi, rel=0.05)  # mean |sin| over 2 s


def test_metrics() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    neg = np.linspace(0, 1, 1001)
    thr = threshold_at_fpr(neg, 0.01)
    assert np.mean(neg >= thr) <= 0.01 and np.mean(neg >= thr - 0.002) > 0.01
