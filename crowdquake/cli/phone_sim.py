"""``crowdquake phone-sim``: simulated phones that stream accelerometer data through the phone
pipeline (``crowdquake.edge.PhonePipeline``) and talk to a running server over HTTP.

Each phone registers, sends heartbeats, and posts a trigger plus its waveform whenever its
pipeline fires. Phones rest on floors and tables most of the time, with human activity
segments in between; ``--quake-magnitude`` adds a stochastic earthquake (Boore 2003, from
``edge_model.data``) that reaches each phone at its P and S travel times.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np

PLATFORMS = ("android", "ios", "other")
APP_VERSION = "phone-sim-1"


@dataclass(frozen=True)
class SimPhone:
    index: int
    latitude: float
    longitude: float
    accuracy_m: float
    platform: str
    clock_offset_s: float  # true - device


# --- payloads (the contract of the API, issue text) -------------------------------------


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def device_payload(phone: SimPhone, model_version: str) -> dict[str, Any]:
    return {"platform": phone.platform, "app_version": APP_VERSION, "model_version": model_version}


def heartbeat_payload(phone: SimPhone, model_version: str, steady: bool) -> dict[str, Any]:
    return {
        "latitude": phone.latitude,
        "longitude": phone.longitude,
        "accuracy_m": phone.accuracy_m,
        "steady": steady,
        "charging": phone.index % 3 != 0,
        "app_version": APP_VERSION,
        "model_version": model_version,
        "clock_offset_s": phone.clock_offset_s,
    }


def trigger_payload(
    *,
    phone: SimPhone,
    trigger_id: str,
    true_time: datetime,
    score: float,
    pga_ms2: float | None,
    phase_hint: str | None,
    model_version: str,
) -> dict[str, Any]:
    device_time = true_time - timedelta(seconds=phone.clock_offset_s)
    return {
        "id": trigger_id,
        "trigger_time": iso(device_time),
        "clock_offset_s": phone.clock_offset_s,
        "latitude": phone.latitude,
        "longitude": phone.longitude,
        "accuracy_m": phone.accuracy_m,
        "pga_ms2": None if pga_ms2 is None else float(pga_ms2),
        "score": float(min(max(score, 0.0), 1.0)),
        "model_version": model_version,
        "phase_hint": phase_hint,
    }


def waveform_payload(
    samples_ms2: np.ndarray, sample_rate_hz: float, start: datetime
) -> dict[str, Any]:
    return {
        "sample_rate_hz": float(sample_rate_hz),
        "start_time": iso(start),
        "channels": ["x", "y", "z"],
        "data": [[round(float(v), 5) for v in row] for row in samples_ms2],
    }


# --- simulation ------------------------------------------------------------------------


def _generators() -> Any:
    """``edge_model.data`` lives at the source-tree root, next to the editable package."""
    from edge_model.data import dataset

    return dataset


def make_phones(
    rng: np.random.Generator, n: int, lat: float, lon: float, radius_km: float
) -> list[SimPhone]:
    phones = []
    for i in range(n):
        r_km = radius_km * math.sqrt(rng.random())
        az = rng.uniform(0, 2 * math.pi)
        dlat = r_km * math.cos(az) / 111.195
        dlon = r_km * math.sin(az) / (111.195 * math.cos(math.radians(lat)))
        phones.append(
            SimPhone(
                i,
                lat + dlat,
                lon + dlon,
                float(rng.uniform(5, 50)),
                str(rng.choice(PLATFORMS, p=[0.7, 0.25, 0.05])),
                float(rng.normal(0, 0.3)),
            )
        )
    return phones


def phone_trace(
    rng: np.random.Generator,
    duration_s: float,
    quake: tuple[float, float, float] | None,
    human_fraction: float,
) -> np.ndarray:
    """Device-frame acceleration at 50 Hz: resting, with activity segments and maybe a quake.

    ``quake`` = (magnitude, hypocentral distance km, P arrival s on the trace clock).
    """
    ds = _generators()
    from edge_model.data.human import ACTIVITIES
    from edge_model.data.phone import resting_orientation
    from edge_model.data.quake import BASE_RATE_HZ, random_scenario, simulate_quake

    n_base = int(duration_s * BASE_RATE_HZ)
    acc, _ = ACTIVITIES["still"](rng, n_base, BASE_RATE_HZ)
    rot = resting_orientation(rng)
    if quake is not None:
        m, r_km, t_p = quake
        rec = simulate_quake(
            rng, random_scenario(rng, m, r_km), pre_p_s=0.0, post_s_s=max(duration_s - t_p, 1.0)
        )
        start = int(t_p * BASE_RATE_HZ)
        if 0 <= start < n_base:
            k = min(n_base - start, rec.acc_enu_ms2.shape[1])
            acc[:, start : start + k] += rec.acc_enu_ms2[:, :k]
    trace = ds.phone_trace(rng, acc, rot, 50.0)
    # Human activity replaces the resting trace in a few segments (the phone is picked up...).
    t = rng.exponential(duration_s / max(human_fraction * 10, 1e-6))
    while human_fraction > 0 and t < duration_s:
        seg_s = min(rng.uniform(10, 60), duration_s - t)
        name = str(rng.choice([a for a in ACTIVITIES if a != "still"]))
        a, r = ACTIVITIES[name](rng, int(seg_s * BASE_RATE_HZ), BASE_RATE_HZ)
        seg = ds.phone_trace(rng, a, r, 50.0)
        i0 = int(t * 50)
        k = min(seg.shape[1], trace.shape[1] - i0)
        trace[:, i0 : i0 + k] = seg[:, :k]
        t += seg_s + rng.exponential(duration_s / max(human_fraction * 10, 1e-6))
    return np.asarray(trace)


def _hypo_km(phone: SimPhone, lat: float, lon: float, depth_km: float) -> float:
    dy = (phone.latitude - lat) * 111.195
    dx = (phone.longitude - lon) * 111.195 * math.cos(math.radians(lat))
    return math.sqrt(dx * dx + dy * dy + depth_km * depth_km)


class ApiClient:
    """Thin httpx client that reports RFC 7807 problems instead of raising."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.errors: list[str] = []

    def send(
        self, method: str, path: str, payload: dict[str, Any], token: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = self.http.request(method, path, json=payload, headers=headers)
        except Exception as exc:
            self.errors.append(f"{method} {path}: {exc}")
            return None
        if resp.status_code >= 400:
            try:
                problem = resp.json()
                detail = f"{problem.get('title', '')}: {problem.get('detail', '')}"
                fields = [
                    f"{e.get('field')}: {e.get('message')}" for e in problem.get("errors", [])
                ]
                if fields:
                    detail += " (" + "; ".join(fields) + ")"
            except ValueError:
                detail = resp.text[:200]
            self.errors.append(f"{method} {path} -> {resp.status_code} {detail}")
            return None
        return resp.json() if resp.content else {}


@click.command("phone-sim")
@click.option(
    "--api",
    "api_url",
    required=True,
    help="base URL of a running server, e.g. http://127.0.0.1:8000",
)
@click.option("--devices", default=20, show_default=True, type=click.IntRange(1))
@click.option(
    "--duration", "duration_s", default=120.0, show_default=True, type=click.FloatRange(10)
)
@click.option("--lat", default=37.87, show_default=True)
@click.option("--lon", default=-122.27, show_default=True)
@click.option("--radius-km", default=30.0, show_default=True)
@click.option("--quake-magnitude", type=float, default=None, help="add an earthquake at the centre")
@click.option(
    "--quake-at", "quake_at_s", default=60.0, show_default=True, help="origin time, s after start"
)
@click.option(
    "--human-fraction", default=0.1, show_default=True, help="share of time in human activity"
)
@click.option("--heartbeat-s", default=60.0, show_default=True)
@click.option(
    "--realtime/--no-realtime", default=True, show_default=True, help="pace posts at their times"
)
@click.option("--waveforms/--no-waveforms", default=True, show_default=True)
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None)
@click.option("--seed", default=0, show_default=True)
def phone_sim(
    *,
    api_url: str,
    devices: int,
    duration_s: float,
    lat: float,
    lon: float,
    radius_km: float,
    quake_magnitude: float | None,
    quake_at_s: float,
    human_fraction: float,
    heartbeat_s: float,
    realtime: bool,
    waveforms: bool,
    model_path: Path | None,
    seed: int,
) -> None:
    """Stream synthetic phones through the phone pipeline and post to a running server."""
    from crowdquake.edge import EdgeModel, PhonePipeline

    rng = np.random.default_rng(seed)
    pipe = PhonePipeline(EdgeModel.load(model_path))
    phones = make_phones(rng, devices, lat, lon, radius_km)
    quake = None if quake_magnitude is None else (quake_magnitude, lat, lon, quake_at_s)
    events = simulate_events(
        rng,
        pipe,
        phones,
        duration_s=duration_s,
        quake=quake,
        human_fraction=human_fraction,
        heartbeat_s=heartbeat_s,
    )
    counts, errors = post_events(
        ApiClient(api_url), pipe, phones, events, realtime=realtime, waveforms=waveforms
    )
    click.echo(
        f"{counts['registered']}/{devices} devices registered; posted {counts['heartbeat']} "
        f"heartbeats, {counts['trigger']} triggers, {counts['waveform']} waveforms; "
        f"{len(errors)} errors"
    )
    for err in errors[:10]:
        click.echo(f"  error: {err}", err=True)
    if counts["registered"] == 0:
        raise click.ClickException(f"no device could register at {api_url}")


def simulate_events(
    rng: np.random.Generator,
    pipe: Any,
    phones: list[SimPhone],
    *,
    duration_s: float,
    quake: tuple[float, float, float, float] | None,
    human_fraction: float,
    heartbeat_s: float,
) -> list[tuple[float, int, str, Any]]:
    """Run every phone's trace through the pipeline: time-ordered heartbeats and triggers.

    ``quake`` = (magnitude, latitude, longitude, origin s after start), depth 10 km.
    """
    rate, window = pipe.model.sidecar.sample_rate_hz, pipe.model.sidecar.window_samples
    events: list[tuple[float, int, str, Any]] = []  # (t_s, phone, kind, data)
    with click.progressbar(phones, label="simulating phones", file=sys.stderr) as bar:
        for phone in bar:
            arrival = None
            if quake is not None:
                r_km = _hypo_km(phone, quake[1], quake[2], 10.0)
                arrival = (quake[0], r_km, quake[3] + r_km / 6.0)
            trace = phone_trace(rng, duration_s, arrival, human_fraction)
            for t in np.arange(0.0, duration_s, heartbeat_s):
                events.append((float(t), phone.index, "heartbeat", None))
            for trig in pipe.process(trace, rate):
                i0 = max(int((trig.trigger_time_s - pipe.config.pre_s) * rate), 0)
                i0 = min(i0, trace.shape[1] - window)
                wave = trace[:, i0 : i0 + window]
                events.append(
                    (trig.trigger_time_s, phone.index, "trigger", (trig, i0 / rate, wave))
                )
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def post_events(
    client: ApiClient,
    pipe: Any,
    phones: list[SimPhone],
    events: list[tuple[float, int, str, Any]],
    *,
    realtime: bool,
    waveforms: bool,
) -> tuple[dict[str, int], list[str]]:
    """Register the phones, then post heartbeats, triggers and waveforms (paced if realtime)."""
    version, rate = pipe.model.sidecar.version, pipe.model.sidecar.sample_rate_hz
    tokens: dict[int, str] = {}
    for phone in phones:
        reply = client.send("POST", "/api/v1/devices", device_payload(phone, version))
        if reply and "token" in reply:
            tokens[phone.index] = reply["token"]
    counts = {"registered": len(tokens), "heartbeat": 0, "trigger": 0, "waveform": 0}
    # Real time: the simulated interval starts now. Otherwise it is the interval that just
    # ended, so no trigger lies in the future (the server rejects future trigger times).
    span_s = max((e[0] for e in events), default=0.0)
    start_wall = datetime.now(UTC) - (timedelta(0) if realtime else timedelta(seconds=span_s))
    start_mono = time.monotonic()
    with click.progressbar(events, label="posting", file=sys.stderr) as bar:
        for t_s, idx, kind, data in bar:
            if idx not in tokens:
                continue
            if realtime:
                time.sleep(max(0.0, t_s - (time.monotonic() - start_mono)))
            phone = phones[idx]
            if kind == "heartbeat":
                body = heartbeat_payload(phone, version, True)
                ok = client.send("POST", "/api/v1/heartbeats", body, tokens[idx])
                counts["heartbeat"] += ok is not None
                continue
            trig, w_start_s, wave = data
            tid = str(uuid.uuid4())
            body = trigger_payload(
                phone=phone,
                trigger_id=tid,
                true_time=start_wall + timedelta(seconds=t_s),
                score=trig.score,
                pga_ms2=trig.pga_ms2,
                phase_hint=trig.phase_hint,
                model_version=version,
            )
            if client.send("POST", "/api/v1/triggers", body, tokens[idx]) is None:
                continue
            counts["trigger"] += 1
            if waveforms:
                device_start = start_wall + timedelta(seconds=w_start_s - phone.clock_offset_s)
                body = waveform_payload(wave, rate, device_start)
                ok = client.send("PUT", f"/api/v1/triggers/{tid}/waveform", body, tokens[idx])
                counts["waveform"] += ok is not None
    return counts, client.errors
