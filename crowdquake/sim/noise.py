"""False triggers: steady-phone background and natural look-alikes with no seismic moveout.

* Background: each steady phone triggers as a Poisson process of rate 0.13-0.23 per hour after
  the on-phone classifier (MyShake, Kong et al. 2016); one rate is drawn per scenario. Generated
  per hour with the steady set of that hour, fully vectorised (no per-second loops), so
  hundreds of region-days cost seconds.
* Look-alikes (our kinematic models, parameters documented in docs/evaluation.md):
  - storm: a wind/thunder cell 20-60 km across shakes a fraction (10-40%) of the steady phones
    under it at random times over 5-20 minutes: many triggers, wide area, no wavefront;
  - building: 20-80 phones in one building (within ~30 m) all trigger within 3 s (machinery,
    a crowd jumping, demolition): many triggers at one spot;
  - train: phones along a 20-60 km straight track (2 per km, within 200 m) trigger as a train
    passes at 20-80 m/s: moveout, but at a speed 50-300 times slower than seismic waves.
"""

from __future__ import annotations

import numpy as np

from crowdquake.domain.geodesy import LocalProjection, haversine_km
from crowdquake.sim.population import KM_PER_DEG_LAT, PhoneModel, Population, draw_steady
from crowdquake.sim.triggertable import LatencyModel, TriggerTable

BACKGROUND_RATE_RANGE_PER_HOUR = (0.13, 0.23)


def _noise_pga(rng: np.random.Generator, threshold_ms2: np.ndarray) -> np.ndarray:
    # A false trigger just exceeded the phone's own threshold.
    return np.asarray(threshold_ms2 * np.exp(np.abs(rng.normal(0.0, 0.5, threshold_ms2.size))))


def _table(
    rng: np.random.Generator,
    population: Population,
    dev: np.ndarray,
    true_time_s: np.ndarray,
    label: str,
    latency: LatencyModel,
    lat_deg: np.ndarray | None = None,
    lon_deg: np.ndarray | None = None,
) -> TriggerTable:
    n = dev.size
    return TriggerTable(
        device_id=np.array([population.device_ids[i] for i in dev], dtype=object),
        time_s=true_time_s + population.clock_error_s[dev],
        received_s=true_time_s + latency.draw(rng, n),
        lat_deg=(population.lat_deg[dev] if lat_deg is None else lat_deg).copy(),
        lon_deg=(population.lon_deg[dev] if lon_deg is None else lon_deg).copy(),
        pga_ms2=_noise_pga(rng, population.threshold_ms2[dev]),
        label=np.full(n, label, dtype=object),
        phase=np.full(n, "", dtype=object),
    )


def background_triggers(
    rng: np.random.Generator,
    population: Population,
    start_s: float,
    end_s: float,
    rate_per_hour: float,
    latency: LatencyModel | None = None,
    steady_by_hour: list[np.ndarray] | None = None,
) -> TriggerTable:
    """Background triggers of steady phones over [start_s, end_s).

    The steady set is redrawn every hour (``draw_steady``) unless given per hour.
    """
    lat = latency or LatencyModel()
    tables = []
    n_hours = int(np.ceil((end_s - start_s) / 3600.0))
    for h in range(n_hours):
        t0 = start_s + 3600.0 * h
        t1 = min(t0 + 3600.0, end_s)
        steady = (
            steady_by_hour[h] if steady_by_hour is not None else draw_steady(rng, population, t0)
        )
        idx = np.flatnonzero(steady)
        n = int(rng.poisson(idx.size * rate_per_hour * (t1 - t0) / 3600.0))
        if n == 0 or idx.size == 0:
            continue
        dev = idx[rng.integers(0, idx.size, n)]
        tables.append(_table(rng, population, dev, rng.uniform(t0, t1, n), "", lat))
    return TriggerTable.concat(tables)


def storm_triggers(
    rng: np.random.Generator,
    population: Population,
    steady: np.ndarray,
    start_s: float,
    center: tuple[float, float],
) -> TriggerTable:
    radius_km = rng.uniform(10.0, 30.0)
    duration_s = rng.uniform(300.0, 1200.0)
    fraction = rng.uniform(0.1, 0.4)
    d = haversine_km(center[0], center[1], population.lat_deg, population.lon_deg)
    under = np.flatnonzero(steady & (d <= radius_km))
    hit = under[rng.random(under.size) < fraction]
    times = start_s + rng.uniform(0.0, duration_s, hit.size)
    return _table(rng, population, hit, times, "lookalike:storm", LatencyModel())


def building_population(
    rng: np.random.Generator, center: tuple[float, float], id_prefix: str
) -> Population:
    """20-80 phones inside one building (scatter ~30 m)."""
    n = int(rng.integers(20, 81))
    pm = PhoneModel()
    lat = center[0] + rng.normal(0.0, 0.03, n) / KM_PER_DEG_LAT
    lon = center[1] + rng.normal(0.0, 0.03, n) / (KM_PER_DEG_LAT * np.cos(np.radians(center[0])))
    thr = np.maximum(
        rng.normal(pm.threshold_mean_ms2, pm.threshold_sd_ms2, n), pm.threshold_floor_ms2
    )
    ids = tuple(f"{id_prefix}{i:05d}" for i in range(n))
    return Population(ids, lat, lon, thr, np.zeros(n), rng.normal(0.0, pm.clock_sigma_s, n))


def building_triggers(
    rng: np.random.Generator, building: Population, start_s: float
) -> TriggerTable:
    n = len(building)
    times = start_s + rng.uniform(0.0, 3.0, n)
    return _table(rng, building, np.arange(n), times, "lookalike:building", LatencyModel())


def track_population(
    rng: np.random.Generator, center: tuple[float, float], id_prefix: str
) -> tuple[Population, np.ndarray]:
    """Phones along a straight track through ``center``; returns them and their along-track km."""
    length_km = rng.uniform(20.0, 60.0)
    heading = rng.uniform(0.0, np.pi)
    n = int(2 * length_km)
    s_km = np.sort(rng.uniform(-length_km / 2, length_km / 2, n))
    off_km = rng.uniform(-0.2, 0.2, n)
    x = s_km * np.cos(heading) - off_km * np.sin(heading)
    y = s_km * np.sin(heading) + off_km * np.cos(heading)
    lat, lon = LocalProjection(center[0], center[1]).inverse(x, y)
    pm = PhoneModel()
    thr = np.maximum(
        rng.normal(pm.threshold_mean_ms2, pm.threshold_sd_ms2, n), pm.threshold_floor_ms2
    )
    ids = tuple(f"{id_prefix}{i:05d}" for i in range(n))
    pop = Population(
        ids,
        np.asarray(lat),
        np.asarray(lon),
        thr,
        np.zeros(n),
        rng.normal(0.0, pm.clock_sigma_s, n),
    )
    return pop, s_km - s_km[0]


def train_triggers(
    rng: np.random.Generator, track: Population, along_km: np.ndarray, start_s: float
) -> TriggerTable:
    speed_km_s = rng.uniform(0.02, 0.08)
    hit = np.flatnonzero(rng.random(len(track)) < 0.6)
    times = start_s + along_km[hit] / speed_km_s + rng.normal(0.0, 0.5, hit.size)
    return _table(rng, track, hit, times, "lookalike:train", LatencyModel())
