"""Runtime of the phone's earthquake classifier (LiteRT/TFLite) and the reference phone logic.

``EdgeModel`` wraps the full-integer ``.tflite`` model shipped in ``edge_model/`` with its JSON
sidecar; ``score_waveform`` scores an uploaded waveform (max over sliding windows);
``PhonePipeline`` is the phone's logic: STA/LTA pre-trigger on a resting phone -> classifier on
windows after the pre-trigger -> trigger payload. Inference only: training lives in
``edge_model`` (optional ``[train]`` extra).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

# The shipped model is package data of the top-level ``edge_model`` package (a checkout or the
# installed wheel alike).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "edge_model"
DEFAULT_MODEL_NAME = "quake_cnn_v1.tflite"


def _interpreter_class() -> Any:
    """LiteRT's Interpreter, or tflite-runtime's when only that is installed (numpy<2 only)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on what is installed
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


@dataclass(frozen=True)
class ModelSidecar:
    """What a caller must know to feed the model (seisbench-style weight metadata)."""

    version: str
    model_file: str
    sample_rate_hz: float
    window_samples: int
    channel_order: tuple[str, ...]
    normalisation: dict[str, Any]
    threshold: float
    input_layout: str = "batch,samples,channels"
    output: str = "logit"  # "logit" (sigmoid applied here) or "probability"
    training_data_digest: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def window_s(self) -> float:
        return self.window_samples / self.sample_rate_hz

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSidecar:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(
            **{k: v for k, v in raw.items() if k in known and k != "channel_order"},
            channel_order=tuple(raw["channel_order"]),
            extra={k: v for k, v in raw.items() if k not in known},
        )

    @classmethod
    def read(cls, path: str | Path) -> ModelSidecar:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        out["channel_order"] = list(self.channel_order)
        out.update(self.extra)
        return out


def model_input_channels(sidecar: ModelSidecar) -> int:
    """Input channels of the network: each sensor channel once per normalisation view."""
    return len(sidecar.channel_order) * len(sidecar.normalisation.get("views", ["log"]))


def normalise_windows(windows_ms2: np.ndarray, normalisation: dict[str, Any]) -> np.ndarray:
    """(n, channels, samples) m/s² -> (n, samples, channels · views) model input, float32.

    Removes each channel's window mean (gravity and sensor offset), then builds the views:
    ``log``: sign(a)·ln(1 + |a|/a0), which keeps 0.005 g earthquakes and 2 g drops apart
    through int8 quantisation; ``peak``: a / max|a| · gain, the waveform shape independent of
    its amplitude (gain puts it on the same int8 scale as the log view).
    """
    x = np.asarray(windows_ms2, dtype=np.float32)
    if normalisation.get("demean", True):
        x = x - x.mean(axis=2, keepdims=True)
    parts = []
    for view in normalisation.get("views", ["log"]):
        if view == "log":
            a0 = float(normalisation["log_compress_ms2"])
            parts.append(np.sign(x) * np.log1p(np.abs(x) * np.float32(1.0 / a0)))
        elif view == "peak":
            peak = np.abs(x).max(axis=(1, 2), keepdims=True) + np.float32(1e-6)
            parts.append(x / peak * np.float32(normalisation.get("peak_gain", 1.0)))
        else:
            raise ValueError(f"unknown normalisation view {view!r}")
    out = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return np.ascontiguousarray(out.transpose(0, 2, 1), dtype=np.float32)


class EdgeModel:
    """A loaded full-integer classifier; ``score`` maps windows to earthquake probabilities."""

    def __init__(self, interpreter: Any, sidecar: ModelSidecar, path: Path) -> None:
        self._interpreter = interpreter
        self.sidecar = sidecar
        self.path = path
        inp = interpreter.get_input_details()[0]
        out = interpreter.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype, self._out_dtype = inp["dtype"], out["dtype"]
        self._in_scale, self._in_zero = inp["quantization"]
        self._out_scale, self._out_zero = out["quantization"]
        self._batch = int(inp["shape"][0])
        expected = (sidecar.window_samples, model_input_channels(sidecar))
        if tuple(int(s) for s in inp["shape"][1:]) != expected:
            raise ValueError(
                f"{path.name}: model input {tuple(inp['shape'])} does not match the sidecar "
                f"(batch, {expected[0]} samples, {expected[1]} channels)"
            )

    @classmethod
    def load(cls, path: str | Path | None = None, num_threads: int = 1) -> EdgeModel:
        """Load ``path`` (.tflite; its sidecar is the same name with .json), default: shipped."""
        model_path = Path(path) if path is not None else DEFAULT_MODEL_DIR / DEFAULT_MODEL_NAME
        sidecar_path = model_path.with_suffix(".json")
        if not model_path.is_file():
            raise FileNotFoundError(f"edge model not found: {model_path}")
        if not sidecar_path.is_file():
            raise FileNotFoundError(f"edge model sidecar not found: {sidecar_path}")
        interpreter = _interpreter_class()(model_path=str(model_path), num_threads=num_threads)
        interpreter.allocate_tensors()
        return cls(interpreter, ModelSidecar.read(sidecar_path), model_path)

    def input_details(self) -> dict[str, Any]:
        return dict(self._interpreter.get_input_details()[0])

    def output_details(self) -> dict[str, Any]:
        return dict(self._interpreter.get_output_details()[0])

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            shape = [batch, self.sidecar.window_samples, model_input_channels(self.sidecar)]
            self._interpreter.resize_tensor_input(self._in_index, shape)
            self._interpreter.allocate_tensors()
            self._batch = batch

    def score_normalised(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for already-normalised input (n, samples, channels)."""
        if self._in_dtype == np.float32:
            q = x
        else:
            info = np.iinfo(self._in_dtype)
            q = np.clip(np.rint(x / self._in_scale) + self._in_zero, info.min, info.max)
            q = q.astype(self._in_dtype)
        self._resize(q.shape[0])
        self._interpreter.set_tensor(self._in_index, q)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._out_index).reshape(-1).astype(np.float64)
        if self._out_dtype != np.float32:
            raw = (raw - self._out_zero) * self._out_scale
        if self.sidecar.output == "logit":
            return np.asarray(1.0 / (1.0 + np.exp(-raw)))
        return np.asarray(raw)

    def score(self, windows_ms2: np.ndarray, max_batch: int = 8192) -> np.ndarray:
        """(n, channels, samples) device-frame acceleration in m/s² -> probabilities (n,)."""
        windows = np.asarray(windows_ms2)
        if windows.ndim == 2:
            windows = windows[None]
        expected = (len(self.sidecar.channel_order), self.sidecar.window_samples)
        if windows.shape[1:] != expected:
            raise ValueError(
                f"windows must be (n, {expected[0]}, {expected[1]}), got {windows.shape}"
            )
        if windows.shape[0] == 0:
            return np.zeros(0)
        x = normalise_windows(windows, self.sidecar.normalisation)
        return np.concatenate(
            [self.score_normalised(x[i : i + max_batch]) for i in range(0, x.shape[0], max_batch)]
        )


def resample_ms2(samples_ms2: np.ndarray, rate_hz: float, out_rate_hz: float) -> np.ndarray:
    """Polyphase resampling of (channels, n) along time; identity when the rates agree."""
    if abs(rate_hz - out_rate_hz) < 1e-9:
        return np.asarray(samples_ms2, dtype=np.float64)
    ratio = Fraction(out_rate_hz / rate_hz).limit_denominator(1000)
    return np.asarray(
        signal.resample_poly(
            samples_ms2, ratio.numerator, ratio.denominator, axis=-1, padtype="line"
        )
    )


def sliding_windows(samples: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(channels, n) -> (k, channels, window) views; a short trace is padded with its mean."""
    if samples.shape[1] < window:
        pad = np.repeat(samples.mean(axis=1, keepdims=True), window - samples.shape[1], axis=1)
        samples = np.concatenate([samples, pad], axis=1)
    view = np.lib.stride_tricks.sliding_window_view(samples, window, axis=1)[:, ::hop]
    return np.ascontiguousarray(view.transpose(1, 0, 2))


def score_waveform(model: EdgeModel, samples_ms2: np.ndarray, sample_rate_hz: float) -> float:
    """Earthquake probability of a (3, n) waveform: max over windows with a quarter-window hop."""
    data = np.asarray(samples_ms2, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != len(model.sidecar.channel_order):
        raise ValueError(
            f"waveform must be ({len(model.sidecar.channel_order)}, n), got {data.shape}"
        )
    data = resample_ms2(data, sample_rate_hz, model.sidecar.sample_rate_hz)
    window = model.sidecar.window_samples
    return float(model.score(sliding_windows(data, window, max(window // 4, 1))).max())


# --- The reference phone logic ------------------------------------------------------------


@dataclass(frozen=True)
class PipelineConfig:
    """Tunables of the phone's trigger logic, in seconds and m/s².

    The STA/LTA pre-trigger is the classic one (Allen 1978; MyShake, Kong et al. 2016, runs it
    before its classifier). The phone must have been at rest (LTA level below
    ``steady_max_ms2``) as MyShake requires; ``min_sta_ms2`` (~0.004 g) sits above the noise of
    phone sensors so that noise alone never reaches the classifier.

    Three checks after the classifier tell a resting phone that shakes from a phone that a
    still person carries (thresholds and the real recordings they were set on:
    ``edge_model/README.md``):

    * steadiness: the 10 s rms (0.5 Hz high-pass, vector) before the pre-trigger is below
      ``steady_max_ms2`` = 0.045 m/s²: a phone on a table measured 0.015-0.025 m/s² (its sensor
      noise), a phone in the pocket of a person standing still 0.035-0.07 m/s². A phone whose
      own resting level is higher (a coarse 12-bit sensor at ±16 g: ~0.06 m/s²) is steady up
      to ``steady_floor_ratio`` times the quietest 10 s it has seen, counted at most at
      ``steady_floor_max_ms2`` = 0.1 m/s²: a phone that has never been quieter than that has
      not been at rest (the noisiest sensors of the phone model rest at 0.04 m/s²; a person
      standing still median 0.05, driving 0.2-0.88). Without that cap a recording that starts
      in motion (washing hands: 1.5 m/s²) counted as its own resting level;
    * orientation: a person's motion turns the phone, so gravity moves between the axes; a
      resting phone that shakes keeps its orientation. The mean acceleration vector over the
      looks may differ from the mean over 1-6 s before the pre-trigger by at most
      ``tilt_abs_ms2 + tilt_rel · peak`` (the relative part admits the long-period content of
      strong shaking);
    * amplitude floor: the high-passed vector peak over the looks reaches ``min_pga_ms2``
      (0.075 m/s² ≈ 0.0076 g, just below MyShake's ~0.01 g; sensor noise adds to a quake's
      peak).
    """

    sta_s: float = 0.5
    lta_s: float = 10.0
    on_ratio: float = 4.0
    min_sta_ms2: float = 0.04
    steady_max_ms2: float = 0.045
    steady_floor_ratio: float = 1.5
    steady_floor_max_ms2: float = 0.1
    min_pga_ms2: float = 0.075
    tilt_abs_ms2: float = 0.01
    tilt_rel: float = 0.06
    tilt_before_s: tuple[float, float] = (6.0, 1.0)
    require_steady: bool = True
    highpass_hz: float = 0.5
    pre_s: float = 0.5
    looks: int = 3
    look_hop_s: float = 1.0
    # Earthquake shaking lasts seconds; slams, knocks and taps are over within one look.
    min_looks_above: int = 2
    dead_time_s: float = 10.0
    threshold: float | None = None  # None: the sidecar's


@dataclass(frozen=True)
class PhoneTrigger:
    """What the phone posts: the pre-trigger time (seconds on the trace's clock) and evidence."""

    trigger_time_s: float
    score: float
    pga_ms2: float
    phase_hint: str | None
    # When the phone has seen all its looks and may post (trace clock): onset + decision delay.
    decision_time_s: float | None = None


class PhonePipeline:
    """STA/LTA pre-trigger -> classifier on windows after it -> trigger (reference phone logic)."""

    def __init__(self, model: EdgeModel, config: PipelineConfig | None = None) -> None:
        self.model = model
        self.config = config or PipelineConfig()
        self.threshold = (
            self.config.threshold if self.config.threshold is not None else model.sidecar.threshold
        )

    def pre_triggers(self, data: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Sample indices where STA/LTA turns on (respecting steadiness), and high-passed data."""
        cfg = self.config
        b, a = signal.butter(1, cfg.highpass_hz, btype="highpass", fs=rate_hz)
        hp = signal.lfilter(b, a, data - data[:, :1], axis=1)
        cf = np.sum(hp**2, axis=0)
        n_sta, n_lta = int(cfg.sta_s * rate_hz), int(cfg.lta_s * rate_hz)
        csum = np.concatenate([[0.0], np.cumsum(cf)])
        idx = np.arange(n_sta + n_lta, cf.size + 1)
        sta = (csum[idx] - csum[idx - n_sta]) / n_sta
        lta = (csum[idx - n_sta] - csum[idx - n_sta - n_lta]) / n_lta
        on = (sta > cfg.on_ratio * np.maximum(lta, 1e-12)) & (sta > cfg.min_sta_ms2**2)
        if cfg.require_steady:
            # A coarse or noisy sensor rests above the absolute limit: its own quietest level so
            # far (causal running minimum of the LTA) times ``steady_floor_ratio`` admits it.
            quietest = np.minimum(np.minimum.accumulate(lta), cfg.steady_floor_max_ms2**2)
            floor = quietest * cfg.steady_floor_ratio**2
            on &= lta < np.maximum(cfg.steady_max_ms2**2, floor)
        rising = np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
        # The STA window ends at idx; its onset is about where the window began to fill.
        return idx[rising] - n_sta, hp

    def process(
        self, samples_ms2: np.ndarray, sample_rate_hz: float, t0_s: float = 0.0
    ) -> list[PhoneTrigger]:
        """Run the phone logic over a (3, n) device-frame trace; times on ``t0_s``'s clock."""
        data = resample_ms2(
            np.asarray(samples_ms2, dtype=np.float64),
            sample_rate_hz,
            self.model.sidecar.sample_rate_hz,
        )
        rate = self.model.sidecar.sample_rate_hz
        window = self.model.sidecar.window_samples
        cfg = self.config
        onsets, hp = self.pre_triggers(data, rate)
        triggers: list[PhoneTrigger] = []
        # After a trigger the phone stays quiet for the dead time; after a rejected pre-trigger it
        # only skips the pre-triggers its looks already covered (an S wave gets its own chance).
        busy_until = -1
        for onset in onsets:
            if onset < busy_until:
                continue
            starts = (
                onset - int(cfg.pre_s * rate) + np.arange(cfg.looks) * int(cfg.look_hop_s * rate)
            )
            starts = starts[(starts >= 0) & (starts + window <= data.shape[1])]
            if starts.size == 0:
                continue
            scores = self.model.score(np.stack([data[:, s : s + window] for s in starts]))
            # The phone decides as soon as enough looks are above threshold and the checks pass
            # on what it has seen so far; it gives up after its last look.
            above = np.cumsum(scores >= self.threshold)
            decided = None
            for j in np.flatnonzero(above >= min(cfg.min_looks_above, starts.size)):
                end = int(starts[j]) + window
                pga = float(np.sqrt(np.sum(hp[:, starts[0] : end] ** 2, axis=0)).max())
                if self.confirms(data, int(onset), int(starts[0]), end, pga):
                    decided = (end, pga, float(scores[: j + 1].max()))
                    break
            if decided is None:
                busy_until = int(onset + cfg.looks * cfg.look_hop_s * rate)
                continue
            busy_until = int(onset + cfg.dead_time_s * rate)
            end, pga, score = decided
            triggers.append(
                PhoneTrigger(
                    trigger_time_s=t0_s + onset / rate,
                    score=score,
                    pga_ms2=pga,
                    phase_hint=self._phase_hint(data, hp, int(onset), rate),
                    decision_time_s=t0_s + end / rate,
                )
            )
        return triggers

    def confirms(self, data: np.ndarray, onset: int, first: int, end: int, pga_ms2: float) -> bool:
        """Amplitude floor and orientation check over the looks ``data[:, first:end]``."""
        cfg = self.config
        if pga_ms2 < cfg.min_pga_ms2:
            return False
        rate = self.model.sidecar.sample_rate_hz
        b0 = max(onset - int(cfg.tilt_before_s[0] * rate), 0)
        b1 = max(onset - int(cfg.tilt_before_s[1] * rate), b0 + 1)
        tilt = float(np.linalg.norm(data[:, first:end].mean(axis=1) - data[:, b0:b1].mean(axis=1)))
        return tilt <= cfg.tilt_abs_ms2 + cfg.tilt_rel * pga_ms2

    def _phase_hint(self, data: np.ndarray, hp: np.ndarray, onset: int, rate: float) -> str | None:
        """P if the first second is mostly vertical (gravity gives the vertical), else S."""
        before = data[:, max(onset - int(self.config.lta_s * rate), 0) : onset]
        if before.shape[1] < rate:
            return None
        up = before.mean(axis=1)
        up /= np.linalg.norm(up) + 1e-12
        first = hp[:, onset : onset + int(rate)]
        vertical = float(np.sum((up @ first) ** 2))
        horizontal = float(np.sum(first**2)) - vertical
        return "P" if vertical > horizontal else "S"


__all__ = [
    "EdgeModel",
    "ModelSidecar",
    "PhonePipeline",
    "PhoneTrigger",
    "PipelineConfig",
    "normalise_windows",
    "score_waveform",
]
