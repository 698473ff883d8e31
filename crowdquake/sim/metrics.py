"""Score one method's run on one scenario, then aggregate outcomes into the report metrics.

Definitions (also in docs/evaluation.md):

* an event *matches* the scenario's earthquake when at least half of its associated triggers are
  genuine triggers of that earthquake; an event with no associations matches when its epicentre
  is within 100 km and its origin time within 30 s of the truth;
* every other (not merged-away) event is a *false event*;
* first detection = the server time of the batch at which the first matching event appeared;
  delay = first detection - origin time; delay over the physical limit = first detection -
  server arrival of the 4th genuine trigger;
* the *final* estimate is the last estimate of the matching event with the most associations;
* magnitude z-score = (estimate - truth) / stated uncertainty (1 sigma); a calibrated
  uncertainty gives z-scores with standard deviation ~1;
* *outside the phone cloud*: the azimuthal gap of the steady phones within 100 km of the
  epicentre exceeds 180 degrees (``scenario.azimuthal_gap_deg``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import EventEstimate
from crowdquake.sim.runner import EventRecord, MethodRun
from crowdquake.sim.scenario import Scenario

MATCH_FRACTION = 0.5
FALLBACK_MATCH_KM = 100.0
FALLBACK_MATCH_S = 30.0
OUTSIDE_CLOUD_GAP_DEG = 180.0
NAN = float("nan")


@dataclass
class Outcome:
    """What one method achieved on one scenario (flat, JSON-friendly)."""

    method: str
    scenario: str
    kind: str
    region: str
    penetration: float
    night: bool
    lookalike: str = ""
    magnitude: float = NAN
    true_lat_deg: float = NAN
    true_lon_deg: float = NAN
    detectable: bool = False
    detected: bool = False
    delay_s: float = NAN
    delay_over_limit_s: float = NAN
    first_epicentre_km: float = NAN
    final_epicentre_km: float = NAN
    origin_time_error_s: float = NAN
    first_dm: float = NAN
    final_dm: float = NAN
    # (estimate - truth) / stated 1-sigma uncertainty
    first_z: float = NAN
    final_z: float = NAN
    # stated 1-sigma uncertainties of the first estimate (km, magnitude units)
    first_horizontal_sd_km: float = NAN
    first_magnitude_sd: float = NAN
    azimuthal_gap_deg: float = NAN
    final_lat_deg: float = NAN
    final_lon_deg: float = NAN
    n_false: int = 0
    # ours' alert policy on the final estimate (domain.evidence): held, and the alert magnitude
    final_held: bool = False
    final_alert_dm: float = NAN
    region_days: float = 0.0
    n_triggers: int = 0
    cpu_s: float = 0.0
    update_ms: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("update_ms")
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _matches(est: EventEstimate, scenario: Scenario) -> bool:
    quake = scenario.quake
    if quake is None:
        return False
    if est.associations:
        labels = scenario.triggers.label
        genuine = 0
        for a in est.associations:
            row = _row_of(a.trigger_id, scenario.name)
            if row is not None and labels[row] == quake.event_id:
                genuine += 1
        return genuine >= MATCH_FRACTION * len(est.associations)
    h = est.hypocenter
    return (
        float(haversine_km(h.lat_deg, h.lon_deg, quake.lat_deg, quake.lon_deg)) <= FALLBACK_MATCH_KM
        and abs(h.origin_time_s - quake.origin_time_s) <= FALLBACK_MATCH_S
    )


def _row_of(trigger_id: str, prefix: str) -> int | None:
    if not trigger_id.startswith(prefix + "-"):
        return None
    try:
        return int(trigger_id[len(prefix) + 1 :])
    except ValueError:
        return None


def _epi_km(est: EventEstimate, lat: float, lon: float) -> float:
    return float(haversine_km(est.hypocenter.lat_deg, est.hypocenter.lon_deg, lat, lon))


def _dm(est: EventEstimate, magnitude: float) -> float:
    return NAN if est.magnitude is None else abs(est.magnitude.magnitude - magnitude)


def _z(est: EventEstimate, magnitude: float) -> float:
    m = est.magnitude
    if m is None or not m.uncertainty > 0:
        return NAN
    return (m.magnitude - magnitude) / m.uncertainty


def score(run: MethodRun, scenario: Scenario) -> Outcome:
    """Outcome of ``run`` on ``scenario`` (see module docstring for the rules)."""
    spec = scenario.spec
    hour = float(
        np.mod(
            (scenario.start_s + 0.5 * (scenario.end_s - scenario.start_s)) / 3600.0
            + spec.region.lon_deg / 15.0,
            24.0,
        )
    )
    out = Outcome(
        run.method,
        scenario.name,
        spec.kind,
        spec.region.name,
        spec.penetration,
        night=hour < 6.0 or hour >= 21.0,
        lookalike=spec.lookalike or "",
        region_days=scenario.region_days,
        n_triggers=run.n_triggers,
        cpu_s=run.cpu_s,
        update_ms=run.update_ms,
    )
    live = [r for r in run.events if not r.merged]
    quake = scenario.quake
    matched: list[EventRecord] = []
    if quake is not None:
        out.magnitude = quake.magnitude
        out.true_lat_deg, out.true_lon_deg = quake.lat_deg, quake.lon_deg
        out.detectable = scenario.detectable
        out.azimuthal_gap_deg = scenario.notes.get("azimuthal_gap_deg", NAN)
        matched = [
            r for r in run.events if _matches(r.final, scenario) or _matches(r.first, scenario)
        ]
    out.n_false = sum(1 for r in live if r not in matched)
    if quake is None or not matched:
        return out
    first = min(matched, key=lambda r: r.first_seen_s)
    final = max(matched, key=lambda r: r.final.n_triggers).final
    out.detected = True
    out.delay_s = first.first_seen_s - quake.origin_time_s
    out.delay_over_limit_s = first.first_seen_s - scenario.physical_limit_s()
    out.first_epicentre_km = _epi_km(first.first, quake.lat_deg, quake.lon_deg)
    out.final_epicentre_km = _epi_km(final, quake.lat_deg, quake.lon_deg)
    out.final_lat_deg, out.final_lon_deg = final.hypocenter.lat_deg, final.hypocenter.lon_deg
    out.origin_time_error_s = final.hypocenter.origin_time_s - quake.origin_time_s
    out.first_dm = _dm(first.first, quake.magnitude)
    out.final_dm = _dm(final, quake.magnitude)
    out.first_z = _z(first.first, quake.magnitude)
    out.first_horizontal_sd_km = first.first.hypocenter.horizontal_uncertainty_km
    if first.first.magnitude is not None:
        out.first_magnitude_sd = first.first.magnitude.uncertainty
    out.final_z = _z(final, quake.magnitude)
    if final.trust is not None:
        out.final_held = final.trust.held
        if final.trust.alert_magnitude is not None:
            out.final_alert_dm = abs(final.trust.alert_magnitude - quake.magnitude)
    return out


def _stats(values: list[float]) -> dict[str, float | int | None]:
    v = np.array([x for x in values if not math.isnan(x)])
    if v.size == 0:
        return {"n": 0, "median": None, "p90": None, "mae": None}
    return {
        "n": int(v.size),
        "median": float(np.median(v)),
        "p90": float(np.percentile(v, 90)),
        "mae": float(np.mean(np.abs(v))),
    }


def _z_stats(values: list[float]) -> dict[str, float | int | None]:
    """Spread of z-scores: standard deviation, mean and share within +-2 (0.95 if calibrated)."""
    v = np.array([x for x in values if not math.isnan(x)])
    if v.size < 2:
        return {"n": int(v.size), "sd": None, "mean": None, "within_2": None}
    return {
        "n": int(v.size),
        "sd": float(np.std(v, ddof=1)),
        "mean": float(np.mean(v)),
        "within_2": float(np.mean(np.abs(v) <= 2.0)),
    }


def _rate(hits: int, total: int) -> dict[str, float | int | None]:
    return {"detected": hits, "total": total, "rate": (hits / total) if total else None}


def aggregate(outcomes: list[Outcome]) -> dict[str, object]:
    """The per-method metrics of the evaluation issue from a method's outcomes."""
    eq = [o for o in outcomes if o.kind == "earthquake"]
    det = [o for o in eq if o.detectable]
    big = [o for o in det if o.magnitude >= 4.5]
    small = [o for o in det if 3.5 <= o.magnitude < 4.5]
    found = [o for o in eq if o.detected]
    noise = [o for o in outcomes if o.kind != "earthquake"]
    region_days = sum(o.region_days for o in noise)
    n_false_noise = sum(o.n_false for o in noise)
    look: dict[str, dict[str, int]] = {}
    for o in noise:
        if o.kind == "lookalike":
            kind = o.lookalike
            d = look.setdefault(kind, {"scenarios": 0, "with_false_event": 0, "false_events": 0})
            d["scenarios"] += 1
            d["with_false_event"] += int(o.n_false > 0)
            d["false_events"] += o.n_false
    delay_big = [o.delay_s for o in found if o.magnitude >= 4.5 and o.penetration >= 1e-3]
    n_trig = sum(o.n_triggers for o in outcomes)
    cpu = sum(o.cpu_s for o in outcomes)
    upd = [x for o in outcomes for x in o.update_ms]
    ge7 = [o for o in found if o.magnitude >= 7.0]
    lt7 = [o for o in found if o.magnitude < 7.0]
    outside = [o for o in eq if o.azimuthal_gap_deg > OUTSIDE_CLOUD_GAP_DEG]
    outside_found = [o for o in outside if o.detected]
    outside_det = [o for o in outside if o.detectable]
    return {
        "detection_rate_m_ge_4_5": _rate(sum(o.detected for o in big), len(big)),
        "detection_rate_m_3_5_to_4_5": _rate(sum(o.detected for o in small), len(small)),
        "detection_rate_all_detectable": _rate(sum(o.detected for o in det), len(det)),
        "false_events_per_region_day": (n_false_noise / region_days) if region_days else None,
        "false_events_noise_and_lookalikes": n_false_noise,
        "region_days": region_days,
        "lookalikes": look,
        "spurious_events_in_earthquake_scenarios": sum(o.n_false for o in eq),
        "delay_s": _stats([o.delay_s for o in found]),
        "delay_s_m_ge_4_5_pen_ge_0_1pct": _stats(delay_big),
        "delay_over_physical_limit_s": _stats([o.delay_over_limit_s for o in found]),
        "epicentre_error_first_km": _stats([o.first_epicentre_km for o in found]),
        "epicentre_error_final_km": _stats([o.final_epicentre_km for o in found]),
        "origin_time_error_abs_s": _stats([abs(o.origin_time_error_s) for o in found]),
        "abs_dm_first": _stats([o.first_dm for o in lt7]),
        "abs_dm_final": _stats([o.final_dm for o in lt7]),
        "abs_dm_first_m_ge_7": _stats([o.first_dm for o in ge7]),
        "abs_dm_final_m_ge_7": _stats([o.final_dm for o in ge7]),
        "abs_dm_first_all": _stats([o.first_dm for o in found]),
        "abs_dm_final_all": _stats([o.final_dm for o in found]),
        "z_magnitude_first": _z_stats([o.first_z for o in found]),
        "z_magnitude_final": _z_stats([o.final_z for o in found]),
        # the epicentre outside the phone cloud (azimuthal gap > 180 degrees)
        "outside_cloud_scenarios": len(outside),
        "outside_cloud_detection_rate": _rate(
            sum(o.detected for o in outside_det), len(outside_det)
        ),
        "outside_cloud_epicentre_error_first_km": _stats(
            [o.first_epicentre_km for o in outside_found]
        ),
        "outside_cloud_epicentre_error_final_km": _stats(
            [o.final_epicentre_km for o in outside_found]
        ),
        "outside_cloud_abs_dm_first": _stats([o.first_dm for o in outside_found]),
        "outside_cloud_abs_dm_final": _stats([o.final_dm for o in outside_found]),
        # ours only: detected earthquakes whose final estimate the alert policy holds, and the
        # error of the magnitude alerts may use (capped by the trusted evidence)
        "held_final_detected": _rate(sum(o.final_held for o in found), len(found)),
        "abs_dm_alert_final": _stats([o.final_alert_dm for o in lt7]),
        "cpu_ms_per_1000_triggers": (1e6 * cpu / n_trig) if n_trig else None,
        "update_ms_p99": float(np.percentile(upd, 99)) if upd else None,
        "n_updates": len(upd),
        "n_triggers": n_trig,
        "n_scenarios": len(outcomes),
    }
