"""Labelled 2 s phone windows from the synthetic generators, and continuous motion streams.

Splits are by event (one earthquake scenario) and by subject (one simulated person/segment):
each split draws its scenarios from its own random stream, so no event or segment ever
contributes windows to two splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_model.data.human import ACTIVITIES
from edge_model.data.phone import (
    building_floor,
    decimate_to,
    random_sensor,
    resample_to,
    resting_orientation,
    sense,
    world_to_device,
)
from edge_model.data.quake import BASE_RATE_HZ, G_MS2, random_scenario, simulate_quake

MODEL_RATE_HZ = 50.0
WINDOW_SAMPLES = 100
PHONE_RATES_HZ = (25.0, 50.0, 100.0)
PHONE_RATE_WEIGHTS = (0.15, 0.6, 0.25)


@dataclass
class WindowSet:
    """Windows (n, 3, WINDOW_SAMPLES) float32 m/s² device frame, labels and metadata columns."""

    x: np.ndarray
    y: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def concat(cls, parts: list[WindowSet]) -> WindowSet:
        keys = set.intersection(*(set(p.meta) for p in parts))
        return cls(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            {k: np.concatenate([p.meta[k] for p in parts]) for k in sorted(keys)},
        )


def phone_trace(
    rng: np.random.Generator,
    acc_enu_ms2: np.ndarray,
    rot: np.ndarray,
    phone_rate_hz: float,
    base_rate_hz: float = BASE_RATE_HZ,
) -> np.ndarray:
    """Device-frame accelerometer output resampled to the model rate (3, m)."""
    specific = world_to_device(acc_enu_ms2, rot)
    recorded = sense(
        rng, decimate_to(specific, base_rate_hz, phone_rate_hz), phone_rate_hz, random_sensor(rng)
    )
    return resample_to(recorded, phone_rate_hz, MODEL_RATE_HZ)


def _phone_rate(rng: np.random.Generator) -> float:
    return float(rng.choice(PHONE_RATES_HZ, p=PHONE_RATE_WEIGHTS))


def max_distance_km(magnitude: float) -> float:
    """Beyond this a phone cannot feel the event (PGA < ~0.002 g); saves simulation time."""
    return float(min(300.0, 10 ** (0.5 * magnitude - 0.2)))


def quake_windows(seed: int, n_events: int, windows_per_event: int = 6) -> WindowSet:
    """Earthquake windows on resting phones, from ``n_events`` independent scenarios."""
    rng = np.random.default_rng(seed)
    xs, pga, mag, dist, offset, event, rate = [], [], [], [], [], [], []
    for ev in range(n_events):
        m = rng.uniform(3.0, 8.0)
        r = float(np.exp(rng.uniform(np.log(1.0), np.log(max_distance_km(m)))))
        rec = simulate_quake(rng, random_scenario(rng, m, r), pre_p_s=3.0, post_s_s=8.0)
        acc = rec.acc_enu_ms2
        if rng.random() < 0.5:
            acc = building_floor(rng, acc, rec.rate_hz)
        ambient, _ = ACTIVITIES["still"](rng, acc.shape[1], rec.rate_hz)
        phone_rate = _phone_rate(rng)
        trace = phone_trace(rng, acc + ambient, resting_orientation(rng), phone_rate)
        ground = decimate_to(acc, rec.rate_hz, MODEL_RATE_HZ)
        scale = MODEL_RATE_HZ / rec.rate_hz
        p0, s0 = int(rec.p_onset * scale), int(rec.s_onset * scale)
        lo = p0 - int(0.8 * MODEL_RATE_HZ)
        hi = min(s0 + int(6 * MODEL_RATE_HZ), trace.shape[1] - WINDOW_SAMPLES)
        for _ in range(windows_per_event):
            # Half the windows start near an onset (what a pre-trigger sees), half anywhere.
            if rng.random() < 0.5:
                onset = p0 if rng.random() < 0.6 else s0
                start = onset - int(rng.uniform(0.0, 1.0) * MODEL_RATE_HZ)
            else:
                start = int(rng.integers(lo, hi))
            start = int(np.clip(start, 0, trace.shape[1] - WINDOW_SAMPLES))
            win = slice(start, start + WINDOW_SAMPLES)
            xs.append(trace[:, win])
            pga.append(np.abs(ground[:, win]).max() / G_MS2)
            mag.append(m)
            dist.append(r)
            offset.append((start - p0) / MODEL_RATE_HZ)
            event.append(ev)
            rate.append(phone_rate)
    n = len(xs)
    return WindowSet(
        np.asarray(xs, np.float32),
        np.ones(n, np.int8),
        {
            "pga_g": np.asarray(pga),
            "magnitude": np.asarray(mag),
            "distance_km": np.asarray(dist),
            "offset_s": np.asarray(offset),
            "group": np.asarray(event),
            "phone_rate_hz": np.asarray(rate),
            "activity": np.full(n, "earthquake"),
        },
    )


def _energy_peak(trace: np.ndarray) -> int:
    hp = trace - np.mean(trace, axis=1, keepdims=True)
    return int(np.argmax(np.sum(np.diff(hp, axis=1) ** 2, axis=0)))


def human_windows(
    seed: int, n_segments_per_activity: int, windows_per_segment: int = 4, segment_s: float = 12.0
) -> WindowSet:
    """Human/environment motion windows.

    Half of the segments start from rest (a resting phone, then the activity, joined by a
    0.3-1.5 s re-orientation): that onset is exactly what the phone's STA/LTA pre-trigger
    hands to the classifier, so windows are anchored there (as the pipeline's looks are),
    at the strongest jerk, or anywhere.
    """
    rng = np.random.default_rng(seed)
    xs, acts, groups, rates = [], [], [], []
    n = int(segment_s * BASE_RATE_HZ)
    group = 0
    for name, generate in ACTIVITIES.items():
        for _ in range(n_segments_per_activity):
            acc, rot = generate(rng, n, BASE_RATE_HZ)
            phone_rate = _phone_rate(rng)
            trace = phone_trace(rng, acc, rot, phone_rate)
            onset = None
            if name != "still" and rng.random() < 0.5:
                rest_acc, rest_rot = ACTIVITIES["still"](
                    rng, int(rng.uniform(2, 6) * BASE_RATE_HZ), BASE_RATE_HZ
                )
                lead = phone_trace(rng, rest_acc, rest_rot, phone_rate)
                n_fade = int(rng.uniform(0.3, 1.5) * MODEL_RATE_HZ)
                trace = join_segments([lead, trace], n_fade)
                onset = lead.shape[1] - n_fade
            peak = _energy_peak(trace)
            for _ in range(windows_per_segment):
                u = rng.random()
                if onset is not None and u < 0.5:
                    start = onset + int(rng.uniform(-1.0, 1.5) * MODEL_RATE_HZ)
                elif u < 0.75:
                    start = peak - int(rng.uniform(0.1, 1.8) * MODEL_RATE_HZ)
                else:
                    start = int(rng.integers(0, trace.shape[1] - WINDOW_SAMPLES))
                start = int(np.clip(start, 0, trace.shape[1] - WINDOW_SAMPLES))
                xs.append(trace[:, start : start + WINDOW_SAMPLES])
                acts.append(name)
                groups.append(group)
                rates.append(phone_rate)
            group += 1
    n_win = len(xs)
    return WindowSet(
        np.asarray(xs, np.float32),
        np.zeros(n_win, np.int8),
        {
            "activity": np.asarray(acts),
            "group": np.asarray(groups) + 1_000_000,
            "phone_rate_hz": np.asarray(rates),
            "pga_g": np.zeros(n_win),
        },
    )


def motion_stream(
    rng: np.random.Generator,
    duration_s: float,
    activities: tuple[str, ...] | None = None,
    min_segment_s: float = 20.0,
    max_segment_s: float = 180.0,
) -> tuple[np.ndarray, list[str]]:
    """Continuous device-frame trace at the model rate: a chain of activity segments."""
    names = activities or tuple(ACTIVITIES)
    parts, labels = [], []
    total = 0.0
    while total < duration_s:
        seg_s = float(min(rng.uniform(min_segment_s, max_segment_s), duration_s - total + 1.0))
        name = str(rng.choice(names))
        acc, rot = ACTIVITIES[name](rng, int(seg_s * BASE_RATE_HZ), BASE_RATE_HZ)
        if rot.ndim == 3 and rot.shape[0] != acc.shape[1]:
            rot = rot[: acc.shape[1]]
        parts.append(phone_trace(rng, acc, rot, 50.0))
        labels.append(name)
        total += seg_s
    return join_segments(parts, int(JOIN_S * MODEL_RATE_HZ)), labels


JOIN_S = 1.5


def join_segments(parts: list[np.ndarray], n_fade: int) -> np.ndarray:
    """Concatenate device-frame segments with a raised-cosine cross-fade of ``n_fade`` samples.

    Segments come with unrelated resting orientations; a phone cannot jump between poses, so
    the gravity vector is carried over smoothly (a re-orientation of about 1.5 s).
    """
    out = parts[0]
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n_fade))
    for seg in parts[1:]:
        k = min(n_fade, out.shape[1], seg.shape[1])
        blend = out[:, -k:] * (1 - ramp[:k]) + seg[:, :k] * ramp[:k]
        out = np.concatenate([out[:, :-k], blend, seg[:, k:]], axis=1)
    return out
