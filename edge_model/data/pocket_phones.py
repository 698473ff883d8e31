"""Real phones in trouser pockets (8 people, Samsung Galaxy S7/S8): evaluation only, never training.

Source: the raw recordings of github.com/DiFronzo/LSTM-for-Human-Activity-Recognition-classification
(commit eddd717, 2022-01-18; MIT licence, © 2022 Andreas Lien): 12 sessions of 8 people, the
phone (Galaxy S8: ST LSM6DSL, or Galaxy S7: K6DS3TR accelerometer) in a trouser pocket,
logged with the HyperIMU app, 3-axis acceleration in m/s² including gravity, about 47 Hz
(each labelled interval is one minute long: 2,650-2,850 samples). Labels: walking, walking
upstairs, walking downstairs, sitting, standing (one-minute intervals); the rest of each
session (getting ready, transitions, turning) is unlabelled. It is not the UCI HAR/HAPT data
(different people, phones and app), which stays held out.

The registries do not carry it, so a small cache is committed: ``edge_model/pocket_phones.npz``
(int16 in units of 2 mm/s², resampled to 50 Hz, with the label intervals and a source line);
the full MIT licence text is beside it in ``edge_model/pocket_phones.LICENSE``. Rebuild it
from a checkout of that repository::

    python -m edge_model.data.pocket_phones /path/to/checkout

Roles, split by person: users 1-4 (sessions 1-8) are ``tune`` (the phone logic's settings may
be chosen on them), users 5-8 (sessions 9-12) are ``eval`` (only reported). The CNN never
trained on either; both are read by ``edge_model.evaluate`` only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_model.data.phone import resample_to

CACHE_PATH = Path(__file__).resolve().parents[1] / "pocket_phones.npz"
RATE_HZ = 50.0
LABEL_S = 60.0  # every labelled interval spans one minute of the app's clock
UNIT_MS2 = 0.002
TUNE_USERS = 4  # users 1-4 tune, 5-8 eval
ACTIVITIES = {1: "walking", 2: "upstairs", 3: "downstairs", 4: "sitting", 5: "standing"}
SOURCE = (
    "github.com/DiFronzo/LSTM-for-Human-Activity-Recognition-classification @ eddd717, "
    "raw data/acc_exp*_user*.txt and labels.txt; MIT License, Copyright (c) 2022 Andreas Lien"
)


@dataclass(frozen=True)
class PocketSession:
    experiment: int
    user: int
    acc_ms2: np.ndarray  # (3, n) at RATE_HZ, device axes, gravity included
    labels: tuple[tuple[str, int, int], ...]  # (activity, first sample, end sample) at RATE_HZ

    @property
    def role(self) -> str:
        return "tune" if self.user <= TUNE_USERS else "eval"

    @property
    def hours(self) -> float:
        return self.acc_ms2.shape[1] / RATE_HZ / 3600.0

    def activity_at(self, sample: int) -> str:
        for name, lo, hi in self.labels:
            if lo <= sample < hi:
                return name
        return "unlabelled"


def _read_checkout(root: Path) -> list[PocketSession]:
    raw = root / "raw data"
    rows = np.loadtxt(raw / "labels.txt", dtype=np.int64, ndmin=2)
    out = []
    for path in sorted(raw.glob("acc_exp*_user*.txt")):
        exp, user = (int(p[-2:]) for p in path.stem.split("_")[1:3])
        acc = np.loadtxt(path, dtype=np.float64, ndmin=2)
        # The app writes zeros until the sensor delivers its first sample.
        first = int(np.argmax(np.any(acc != 0.0, axis=1)))
        acc = acc[first:].T
        mine = rows[rows[:, 0] == exp]
        lengths = [hi - lo for lo, hi in mine[:, 3:5] if 0 < hi - lo < 2 * LABEL_S * 60]
        rate = float(np.median(lengths)) / LABEL_S
        out_acc = resample_to(acc, rate, RATE_HZ) if abs(rate - RATE_HZ) > 0.1 else acc
        scale = RATE_HZ / rate
        labels = []
        for _, _, act, lo, end in mine:
            # One row of labels.txt has a typo'd end: every interval is one minute.
            hi = end if 0 < end - lo < 2 * LABEL_S * 60 else lo + int(LABEL_S * rate)
            labels.append(
                (ACTIVITIES[int(act)], int((lo - first) * scale), int((hi - first) * scale))
            )
        out.append(PocketSession(exp, user, out_acc, tuple(labels)))
    return out


def build_cache(root: Path, path: Path = CACHE_PATH) -> Path:
    sessions = _read_checkout(root)
    arrays: dict[str, np.ndarray] = {}
    for s in sessions:
        key = f"exp{s.experiment:02d}_user{s.user:02d}"
        arrays[f"{key}_acc"] = np.round(s.acc_ms2 / UNIT_MS2).clip(-32767, 32767).astype(np.int16)
        arrays[f"{key}_labels"] = np.asarray(
            [
                (int(k), lo, hi)
                for name, lo, hi in s.labels
                for k in ACTIVITIES
                if ACTIVITIES[k] == name
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
    np.savez_compressed(
        path, rate_hz=np.asarray(RATE_HZ), unit_ms2=np.asarray(UNIT_MS2), source=SOURCE, **arrays
    )
    return path


def load_pocket_sessions(path: Path = CACHE_PATH) -> list[PocketSession] | None:
    """The committed cache as sessions, or ``None`` when it is missing."""
    if not path.is_file():
        return None
    cache = np.load(path)
    unit = float(cache["unit_ms2"])
    out = []
    for key in sorted(k for k in cache.files if k.endswith("_acc")):
        stem = key[: -len("_acc")]
        exp, user = int(stem[3:5]), int(stem[-2:])
        labels = tuple(
            (ACTIVITIES[int(a)], int(lo), int(hi)) for a, lo, hi in cache[f"{stem}_labels"]
        )
        out.append(PocketSession(exp, user, cache[key].astype(np.float64) * unit, labels))
    return out


if __name__ == "__main__":
    written = build_cache(Path(sys.argv[1]))
    print(f"wrote {written} ({os.path.getsize(written) / 1e6:.2f} MB)")
