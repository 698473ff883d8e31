"""EdgeModel: sidecar vs model signature, stored outputs, batching, Keras agreement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crowdquake.edge import (
    DEFAULT_MODEL_DIR,
    EdgeModel,
    ModelSidecar,
    model_input_channels,
    normalise_windows,
    score_waveform,
)

VECTORS = DEFAULT_MODEL_DIR / "test_vectors.npz"


@pytest.fixture(scope="module")
def model() -> EdgeModel:
    return EdgeModel.load()


def test_sidecar_matches_model_signature(model: EdgeModel) -> None:
    sc, inp, out = model.sidecar, model.input_details(), model.output_details()
    assert tuple(inp["shape"][1:]) == (sc.window_samples, model_input_channels(sc))
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8  # full-integer model
    assert tuple(out["shape"]) == (inp["shape"][0], 1)
    assert sc.channel_order == ("x", "y", "z")
    assert sc.sample_rate_hz == 50.0 and sc.window_s == 2.0
    assert 0.0 < sc.threshold < 1.0
    assert sc.training_data_digest.startswith("sha256:")
    assert model.path.stat().st_size <= 100 * 1024
    raw = json.loads(model.path.with_suffix(".json").read_text())
    assert ModelSidecar.from_dict(raw).to_dict() == raw


def test_runtime_reproduces_stored_outputs(model: EdgeModel) -> None:
    vectors = np.load(VECTORS)
    scores = model.score(vectors["windows_ms2"])
    np.testing.assert_allclose(scores, vectors["tflite_scores"], atol=1e-6)
    # The first 12 fixed windows are 6 random human-motion and 6 random earthquake windows (the
    # rest are chosen near the decision boundary): the model separates most of them.
    hits = (scores[:12] >= model.sidecar.threshold) == vectors["labels"][:12].astype(bool)
    assert np.mean(hits) >= 0.75


def test_batched_equals_one_by_one(model: EdgeModel) -> None:
    x = np.load(VECTORS)["windows_ms2"]
    one_by_one = np.concatenate([model.score(w[None]) for w in x])
    np.testing.assert_array_equal(model.score(x), one_by_one)
    np.testing.assert_array_equal(model.score(x, max_batch=3), one_by_one)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(p / (1 - p)))


def _assert_int8_close_to_float(int8_scores: np.ndarray, float_scores: np.ndarray) -> None:
    """Quantisation tolerance in logit space (the network's output); the output is clipped at
    ±12 logits, so only windows inside the clip range are compared number by number."""
    inside = np.abs(_logit(float_scores)) < 11.0
    near_boundary = np.abs(_logit(float_scores)) < 3.0
    assert near_boundary.sum() >= 4
    error = np.abs(_logit(int8_scores) - _logit(float_scores))
    # Rounding in four int8 convolutions accumulates; it matters least far from the boundary.
    assert np.max(error[inside]) <= 1.5
    # (the model of 2026-12-02 measured 0.73 logit at most here: a factor 2 in the odds)
    assert np.max(error[near_boundary]) <= 1.0
    # Decisions agree wherever the float model is clear of the boundary by more than that error.
    clear = np.abs(_logit(float_scores)) > 1.0
    assert np.array_equal((int8_scores >= 0.5)[clear], (float_scores >= 0.5)[clear])


def test_keras_agrees_within_quantisation_tolerance() -> None:
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    vectors = np.load(VECTORS)
    runtime = EdgeModel.load()
    net = keras.models.load_model(DEFAULT_MODEL_DIR / f"{runtime.sidecar.version}.keras")
    x = normalise_windows(vectors["windows_ms2"], runtime.sidecar.normalisation)
    logits = net.predict(x, verbose=0).reshape(-1).astype(np.float64)
    float_scores = 1.0 / (1.0 + np.exp(-logits))
    np.testing.assert_allclose(float_scores, vectors["keras_scores"], atol=1e-4)
    _assert_int8_close_to_float(runtime.score(vectors["windows_ms2"]), float_scores)


def test_stored_keras_outputs_close_to_runtime(model: EdgeModel) -> None:
    """Without TF: the float outputs saved at export stay within int8 tolerance of the runtime."""
    vectors = np.load(VECTORS)
    _assert_int8_close_to_float(model.score(vectors["windows_ms2"]), vectors["keras_scores"])


def test_normalisation_ignores_gravity_and_orientation_offset() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.2, (4, 3, 100))
    norm = {"demean": True, "views": ["log", "peak"], "log_compress_ms2": 0.02, "peak_gain": 6.0}
    shifted = x + np.array([0.0, 3.0, 9.3])[None, :, None]
    # float32 arithmetic on a 9.3 m/s² offset: agreement to ~1e-4 of a unit.
    np.testing.assert_allclose(
        normalise_windows(x, norm), normalise_windows(shifted, norm), atol=2e-4
    )
    assert normalise_windows(x, norm).shape == (4, 100, 6)


def test_score_waveform_resamples_and_pads(model: EdgeModel) -> None:
    vectors = np.load(VECTORS)
    quake = vectors["windows_ms2"][vectors["labels"] == 1][0].astype(np.float64)
    at_50 = score_waveform(model, quake, 50.0)
    from scipy import signal

    at_100 = score_waveform(model, signal.resample_poly(quake, 2, 1, axis=1, padtype="line"), 100.0)
    assert abs(at_50 - at_100) < 0.25
    assert 0.0 <= score_waveform(model, quake[:, :60], 50.0) <= 1.0
    with pytest.raises(ValueError, match="waveform must be"):
        score_waveform(model, quake[:2], 50.0)


def test_wrong_sidecar_is_rejected(tmp_path: Path, model: EdgeModel) -> None:
    path = tmp_path / "m.tflite"
    shutil.copy(model.path, path)
    raw = model.sidecar.to_dict()
    raw["window_samples"] = 150
    path.with_suffix(".json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="does not match the sidecar"):
        EdgeModel.load(path)
    with pytest.raises(FileNotFoundError):
        EdgeModel.load(tmp_path / "missing.tflite")


def test_bad_window_shape_raises(model: EdgeModel) -> None:
    with pytest.raises(ValueError, match="windows must be"):
        model.score(np.zeros((2, 3, 99)))
    assert model.score(np.zeros((0, 3, 100))).shape == (0,)


def test_bench_edge_reports_cpu_and_wall_time_per_window() -> None:
    from click.testing import CliRunner

    from crowdquake.cli.bench_edge import bench_edge

    result = CliRunner().invoke(bench_edge, ["--batch", "16", "--repeats", "20"])
    assert result.exit_code == 0, result.output
    single = next(line for line in result.output.splitlines() if line.startswith("one window"))
    assert "ms CPU" in single and "ms wall" in single
    assert "load average" in result.output and "targets (CPU time)" in result.output
