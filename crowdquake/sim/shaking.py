"""Which phones an earthquake triggers, when, and with what PGA.

Physics of the simulated truth (deliberately different from what the detector assumes):

* Travel times: IASP91 crust (Kennett & Engdahl 1991, GJI 105(2) 429-465): 0-20 km vp 5.80
  vs 3.36 km/s, 20-35 km vp 6.50 vs 3.75 km/s, mantle vp 8.04 vs 4.47 km/s, first arrivals
  (direct or head wave) from ``crowdquake.domain.traveltime.LayeredModel``. The detector uses a
  homogeneous 6.1/3.55 km/s model, so model error is part of the test.
* PGA: Bindi et al. (2014) median (``crowdquake.sim.groundmotion``) with its inter-event term tau
  (one draw per earthquake) and intra-event term phi (one per phone), times a phone coupling
  factor (``PhoneModel.coupling_sigma_ln``); accelerometers clip at 2 g.
* The P wave's peak is taken as ``P_TO_S_AMPLITUDE`` of the S-wave peak (our assumption: vertical
  P peaks are typically a quarter to a half of the horizontal S peak at local distances). A phone
  triggers on the P wave if that exceeds its threshold, else on the S wave if the S peak does.
* 20% of would-be triggers are lost (MyShake), picks scatter with sigma 0.5 s (MyShake), the
  reported time carries the phone's residual clock error, and the server receives the report
  after a latency (``LatencyModel``).
* The reported PGA is the peak of the first 5 s after the trigger: the S peak if S arrives by
  then, else the P peak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.traveltime import LayeredModel
from crowdquake.sim.catalog import Quake
from crowdquake.sim.groundmotion import BINDI14_PHI_LN, BINDI14_TAU_LN, pga_median_ms2
from crowdquake.sim.population import Population
from crowdquake.sim.triggertable import LatencyModel, TriggerTable

P_TO_S_AMPLITUDE = 0.3
CLIP_MS2 = 2.0 * 9.80665
REPORT_WINDOW_S = 5.0


@dataclass(frozen=True)
class ShakingModel:
    loss_fraction: float = 0.2  # MyShake: 20% of would-be triggers never arrive
    pick_sigma_s: float = 0.5  # MyShake pick-time scatter
    p_to_s_amplitude: float = P_TO_S_AMPLITUDE
    latency: LatencyModel = field(default_factory=LatencyModel)


@lru_cache(maxsize=1)
def iasp91_crust() -> LayeredModel:
    return LayeredModel((0.0, 20.0, 35.0), (5.80, 6.50, 8.04), (3.36, 3.75, 4.47))


def earthquake_triggers(
    rng: np.random.Generator,
    quake: Quake,
    population: Population,
    steady: np.ndarray,
    model: ShakingModel | None = None,
) -> TriggerTable:
    """Triggers of the steady phones of ``population`` shaken by ``quake`` (label = event id)."""
    sm = model or ShakingModel()
    idx = np.flatnonzero(steady)
    if idx.size == 0:
        return TriggerTable.empty()
    dist_km = haversine_km(
        quake.lat_deg, quake.lon_deg, population.lat_deg[idx], population.lon_deg[idx]
    )
    event_term = rng.normal(0.0, BINDI14_TAU_LN)
    ln_pga = (
        np.log(pga_median_ms2(quake.magnitude, dist_km))
        + event_term
        + rng.normal(0.0, BINDI14_PHI_LN, idx.size)
        + population.coupling_ln[idx]
    )
    pga_s = np.minimum(np.exp(ln_pga), CLIP_MS2)
    pga_p = sm.p_to_s_amplitude * pga_s
    thr = population.threshold_ms2[idx]
    on_p = pga_p > thr
    on_s = ~on_p & (pga_s > thr)
    kept = (on_p | on_s) & (rng.random(idx.size) >= sm.loss_fraction)
    sel = np.flatnonzero(kept)
    if sel.size == 0:
        return TriggerTable.empty()
    tt = iasp91_crust()
    d = dist_km[sel]
    t_p = tt.travel_time_s(d, quake.depth_km, "P")
    t_s = tt.travel_time_s(d, quake.depth_km, "S")
    is_p = on_p[sel]
    arrival_s = quake.origin_time_s + np.where(is_p, t_p, t_s)
    pick_s = arrival_s + rng.normal(0.0, sm.pick_sigma_s, sel.size)
    reported_pga = np.where(is_p & (t_s - t_p > REPORT_WINDOW_S), pga_p[sel], pga_s[sel])
    dev = idx[sel]
    received = np.maximum(pick_s, arrival_s) + sm.latency.draw(rng, sel.size)
    return TriggerTable(
        device_id=np.array([population.device_ids[i] for i in dev], dtype=object),
        time_s=pick_s + population.clock_error_s[dev],
        received_s=received,
        lat_deg=population.lat_deg[dev].copy(),
        lon_deg=population.lon_deg[dev].copy(),
        pga_ms2=reported_pga,
        label=np.full(sel.size, quake.event_id, dtype=object),
        phase=np.where(is_p, "P", "S").astype(object),
    )


def predicted_median_pga_ms2(quake: Quake, lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """The simulator's median PGA at the given places (no scatter), for detectability."""
    dist_km = haversine_km(quake.lat_deg, quake.lon_deg, lat_deg, lon_deg)
    return np.asarray(pga_median_ms2(quake.magnitude, dist_km))
