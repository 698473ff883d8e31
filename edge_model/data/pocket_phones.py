"""Real phones in trouser pockets (8 people, Samsung Galaxy S7/S8), split by person.

Source: the raw recordings of github.com/DiFronzo/LSTM-for-Human-Activity-Recognition-classification
(commit eddd717, 2022-01-18; MIT licence, © 2022 Andreas Lien): 12 sessions of 8 people, the
phone (Galaxy S8: ST LSM6DSL, or Galaxy S7: K6DS3TR accelerometer) in a trouser pocket,
logged with the HyperIMU app, 3-axis acceleration in m/s² including gravity, about 47 Hz
(each labelled interval is one minute long: 2,650-2,850 samples). Labels: walking, walking
upstairs, walking downstairs, sitting, standing (one-minute intervals); the rest of each
session (getting ready, transitions, turning) is unlabelled. It is not the UCI HAR/HAPT data
(different people, phones and app), which stays held out.

The registries do not carry it, so a small cache is committed: ``edge_model/pocket_phones.npz``
(resampled to 50 Hz, with the label intervals and a source line; 0.99 MB); the full MIT licence
text is beside it in ``edge_model/pocket_phones.LICENSE``. Rebuild it from a checkout of that
repository::

    python -m edge_model.data.pocket_phones /path/to/checkout

Storage (block floating point, ``encode_acc`` / ``decode_acc``): each channel is cut into 1 s
blocks (50 samples); a block's samples are integers times its step ``2 mm/s² × 2**k``, with
``k >= 0`` the largest for which the step stays within 3% of the block's standard deviation
(rounding error at most 0.9% of the block's motion, rms). Blocks with a standard deviation
below 0.13 m/s² (a still phone: on a table 0.014-0.027 m/s², a person sitting still median
0.024) keep the 2 mm/s² step, i.e. are stored exactly as the earlier lossless int16 cache
(1.8 MB) had them. The integers are stored as first differences (zigzag, low and high byte
planes, then the step exponents, one LZMA stream per session): 0.99 MB. Recoding that cache
left every trigger of ``make edge-evaluate`` and the held-out still-posture window rates
unchanged and moved the stairs and tune-standing window rates by 0.2 points
(``edge_model/README.md``).

Roles, split by person: users 1-4 (sessions 1-8) are ``tune`` (training negatives of the CNN,
its still-phone threshold, and the phone logic's settings may be chosen on them), users 5-8
(sessions 9-12) are ``eval`` (only reported by ``edge_model.evaluate``).
"""

from __future__ import annotations

import lzma
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_model.data.phone import resample_to

CACHE_PATH = Path(__file__).resolve().parents[1] / "pocket_phones.npz"
RATE_HZ = 50.0
LABEL_S = 60.0  # every labelled interval spans one minute of the app's clock
UNIT_MS2 = 0.002  # the finest step of the block floating point storage (m/s²)
BLOCK = 50  # samples per block (1 s at RATE_HZ) sharing one step
STEP_OF_STD = 0.03  # a block's step is at most this fraction of its standard deviation
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


def encode_acc(acc_ms2: np.ndarray) -> np.ndarray:
    """``(3, n)`` m/s² -> LZMA bytes (as uint8) of the sample deltas and the step exponents.

    Block floating point, see the module docstring; ``decode_acc`` inverts it up to rounding.
    """
    n = acc_ms2.shape[1]
    blocks = -(-n // BLOCK)
    padded = np.pad(acc_ms2, ((0, 0), (0, blocks * BLOCK - n)), mode="edge")
    padded = padded.reshape(3, blocks, BLOCK)
    std = padded.std(axis=2)
    ratio = np.maximum(std * STEP_OF_STD / UNIT_MS2, 1.0)
    exponent = np.floor(np.log2(ratio)).astype(np.int8)
    step = UNIT_MS2 * np.exp2(exponent.astype(np.float64))[:, :, None]
    counts = np.round(padded / step).reshape(3, -1)[:, :n].astype(np.int64)
    delta = np.diff(counts, axis=1, prepend=0)
    zigzag = np.where(delta >= 0, 2 * delta, -2 * delta - 1)
    if zigzag.max(initial=0) >= 1 << 16:
        raise ValueError("a step between samples does not fit the 16-bit delta")
    planes = np.concatenate([(zigzag & 0xFF).ravel(), (zigzag >> 8).ravel()]).astype(np.uint8)
    packed = lzma.compress(planes.tobytes() + exponent.tobytes(), preset=9 | lzma.PRESET_EXTREME)
    return np.frombuffer(packed, dtype=np.uint8)


def decode_acc(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of ``encode_acc``: ``(3, n)`` float64 m/s²."""
    raw = lzma.decompress(packed.tobytes())
    planes = np.frombuffer(raw[: 6 * n], dtype=np.uint8).astype(np.int64)
    exponent = np.frombuffer(raw[6 * n :], dtype=np.int8).reshape(3, -1)
    zigzag = planes[: 3 * n] | (planes[3 * n :] << 8)
    delta = np.where(zigzag % 2 == 0, zigzag // 2, -(zigzag + 1) // 2).reshape(3, n)
    counts = np.cumsum(delta, axis=1)
    step = UNIT_MS2 * np.exp2(exponent.astype(np.float64))
    return counts * np.repeat(step, BLOCK, axis=1)[:, :n]


def build_cache(root: Path, path: Path = CACHE_PATH) -> Path:
    return write_cache(_read_checkout(root), path)


def write_cache(sessions: list[PocketSession], path: Path = CACHE_PATH) -> Path:
    arrays: dict[str, np.ndarray] = {}
    for s in sessions:
        key = f"exp{s.experiment:02d}_user{s.user:02d}"
        arrays[f"{key}_packed"] = encode_acc(s.acc_ms2)
        arrays[f"{key}_samples"] = np.asarray(s.acc_ms2.shape[1])
        arrays[f"{key}_labels"] = np.asarray(
            [
                (int(k), lo, hi)
                for name, lo, hi in s.labels
                for k in ACTIVITIES
                if ACTIVITIES[k] == name
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
    np.savez(
        path,
        rate_hz=np.asarray(RATE_HZ),
        unit_ms2=np.asarray(UNIT_MS2),
        block_samples=np.asarray(BLOCK),
        source=SOURCE,
        **arrays,
    )
    return path


def load_pocket_sessions(path: Path = CACHE_PATH) -> list[PocketSession] | None:
    """The committed cache as sessions, or ``None`` when it is missing."""
    if not path.is_file():
        return None
    cache = np.load(path)
    if float(cache["unit_ms2"]) != UNIT_MS2 or int(cache["block_samples"]) != BLOCK:
        raise ValueError(f"{path.name}: written with another storage format")
    out = []
    for key in sorted(k for k in cache.files if k.endswith("_packed")):
        stem = key[: -len("_packed")]
        exp, user = int(stem[3:5]), int(stem[-2:])
        labels = tuple(
            (ACTIVITIES[int(a)], int(lo), int(hi)) for a, lo, hi in cache[f"{stem}_labels"]
        )
        acc = decode_acc(cache[key], int(cache[f"{stem}_samples"]))
        out.append(PocketSession(exp, user, acc, labels))
    return out


if __name__ == "__main__":
    written = build_cache(Path(sys.argv[1]))
    print(f"wrote {written} ({os.path.getsize(written) / 1e6:.2f} MB)")
