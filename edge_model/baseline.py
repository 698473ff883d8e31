"""The MyShake-style baseline: a small ANN on three features of a 2 s window (numpy runtime).

Kong, Allen, Schreier & Kwon (2016), MyShake: A smartphone seismic network for earthquake
early warning and beyond, Science Advances 2, e1501055. Features of the demeaned window:

* IQR: interquartile range of the vector sum sqrt(x² + y² + z²) (amplitude),
* CAV: cumulative absolute velocity, sum of |vector sum| · dt (amplitude and duration),
* ZC: zero-crossing rate, the maximum over the three components (dominant frequency).

The weights are trained by ``edge_model.train`` (Keras) and stored as JSON; inference here
is plain numpy so evaluation needs no TensorFlow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BASELINE_PATH = Path(__file__).resolve().parent / "myshake_baseline_v1.json"


def myshake_features(windows_ms2: np.ndarray, rate_hz: float) -> np.ndarray:
    """(n, 3, samples) m/s² -> (n, 3) [log10 IQR, log10 CAV, ZC rate in 1/s]."""
    x = np.asarray(windows_ms2, dtype=np.float64)
    x = x - x.mean(axis=2, keepdims=True)
    vs = np.sqrt(np.sum(x**2, axis=1))
    q75, q25 = np.percentile(vs, [75, 25], axis=1)
    iqr = q75 - q25
    cav = np.sum(np.abs(vs), axis=1) / rate_hz
    signs = np.signbit(x)
    zc = np.max(np.sum(signs[:, :, 1:] != signs[:, :, :-1], axis=2), axis=1)
    zc_rate = zc / (x.shape[2] / rate_hz)
    return np.stack([np.log10(iqr + 1e-6), np.log10(cav + 1e-6), zc_rate], axis=1)


@dataclass(frozen=True)
class MyShakeBaseline:
    """Standardised features -> tanh hidden layer -> sigmoid."""

    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    rate_hz: float
    threshold: float

    def score(self, windows_ms2: np.ndarray) -> np.ndarray:
        f = (myshake_features(windows_ms2, self.rate_hz) - self.mean) / self.std
        h = np.tanh(f @ self.w1 + self.b1)
        z = h @ self.w2 + self.b2
        return np.asarray(1.0 / (1.0 + np.exp(-z.reshape(-1))))

    def to_json(self, path: Path, extra: dict[str, object]) -> None:
        raw = {
            k: np.asarray(getattr(self, k)).tolist()
            for k in ("mean", "std", "w1", "b1", "w2", "b2")
        }
        raw.update(rate_hz=self.rate_hz, threshold=self.threshold, **extra)
        path.write_text(json.dumps(raw, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path = BASELINE_PATH) -> MyShakeBaseline:
        raw = json.loads(path.read_text())
        arr = {
            k: np.asarray(raw[k], dtype=np.float64) for k in ("mean", "std", "w1", "b1", "w2", "b2")
        }
        return cls(**arr, rate_hz=float(raw["rate_hz"]), threshold=float(raw["threshold"]))
