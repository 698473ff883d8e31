"""Synthetic, physically grounded phone scenarios for the domain tests.

Physics (units in names, sources):
* phones: uniform in a disk, positions in degrees via the azimuthal equidistant inverse;
* ground motion: BSSA14 median PGA (crowdquake.domain.groundmotion) times a log-normal factor
  exp(N(0, sigma_ln)); a phone triggers when PGA > 0.01 g (MyShake threshold) and a uniform
  draw < 0.8 (MyShake: 20% of would-be triggers are lost);
* phase: the P wave carries roughly a third of the S-wave peak at short distance (a common
  rule of thumb for crustal records, e.g. Kanamori 2005, Annu. Rev. Earth Planet. Sci. 33),
  so a phone triggers on P when PGA / 3 > threshold, else on S;
* reported PGA: the peak of the first 5 s after the trigger (the P peak when S comes later);
* times: homogeneous travel times (vp 6.1, vs 3.55 km/s, MyShake) + N(0, 0.5 s) pick scatter;
* noise: each phone emits false triggers as a Poisson process (rate per device-hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from crowdquake.domain.geodesy import LocalProjection
from crowdquake.domain.groundmotion import joyner_boore_km, ln_pga_median_ms2
from crowdquake.domain.traveltime import HomogeneousModel
from crowdquake.domain.types import ActiveDevices, Trigger

THRESHOLD_MS2 = 0.0981
T0 = 1_700_000_000.0


@dataclass
class Quake:
    lat_deg: float
    lon_deg: float
    depth_km: float
    origin_time_s: float
    magnitude: float


@dataclass
class Scenario:
    devices: ActiveDevices
    x_km: np.ndarray
    y_km: np.ndarray
    triggers: list[Trigger]
    proj: LocalProjection


def make_devices(
    rng: np.random.Generator, n: int, radius_km: float, center: tuple[float, float] = (35.0, -118.0)
) -> Scenario:
    proj = LocalProjection(*center)
    r = radius_km * np.sqrt(rng.random(n))
    th = rng.random(n) * 2 * np.pi
    x, y = r * np.cos(th), r * np.sin(th)
    lat, lon = proj.inverse(x, y)
    ids = tuple(f"d{i}" for i in range(n))
    return Scenario(ActiveDevices(ids, np.asarray(lat), np.asarray(lon)), x, y, [], proj)


def quake_triggers(
    rng: np.random.Generator,
    sc: Scenario,
    q: Quake,
    tag: str,
    *,
    sigma_ln: float = 0.7,
    pick_sigma_s: float = 0.5,
    efficiency: float = 0.8,
) -> list[Trigger]:
    qx, qy = sc.proj.forward(q.lat_deg, q.lon_deg)
    d = np.hypot(sc.x_km - qx, sc.y_km - qy)
    ln_pga = ln_pga_median_ms2(q.magnitude, joyner_boore_km(d, q.magnitude)) + rng.normal(
        0.0, sigma_ln, d.size
    )
    pga = np.exp(ln_pga)
    trig = (pga > THRESHOLD_MS2) & (rng.random(d.size) < efficiency)
    model = HomogeneousModel()
    on_p = pga / 3.0 > THRESHOLD_MS2
    t = q.origin_time_s + np.where(
        on_p, model.travel_time_s(d, q.depth_km, "P"), model.travel_time_s(d, q.depth_km, "S")
    )
    t = t + rng.normal(0.0, pick_sigma_s, d.size)
    # phones report the peak of the first 5 s after triggering: the P peak (a third of the S
    # peak) when the S wave comes later than that
    s_late = q.origin_time_s + model.travel_time_s(d, q.depth_km, "S") > t + 5.0
    pga = np.where(on_p & s_late, pga / 3.0, pga)
    out = []
    for i in np.nonzero(trig)[0]:
        out.append(
            Trigger(
                f"{tag}-{i}",
                sc.devices.device_ids[i],
                float(t[i]),
                float(sc.devices.lat_deg[i]),
                float(sc.devices.lon_deg[i]),
                pga_ms2=float(pga[i]),
            )
        )
    return out


def noise_triggers(
    rng: np.random.Generator,
    sc: Scenario,
    rate_per_device_hour: float,
    *,
    t_from: float,
    t_to: float,
    tag: str = "n",
) -> list[Trigger]:
    n = len(sc.devices)
    counts = rng.poisson(rate_per_device_hour * (t_to - t_from) / 3600.0, n)
    out = []
    for i in np.nonzero(counts)[0]:
        for j in range(counts[i]):
            out.append(
                Trigger(
                    f"{tag}-{i}-{j}",
                    sc.devices.device_ids[i],
                    float(rng.uniform(t_from, t_to)),
                    float(sc.devices.lat_deg[i]),
                    float(sc.devices.lon_deg[i]),
                    pga_ms2=float(THRESHOLD_MS2 * np.exp(rng.exponential(0.3))),
                )
            )
    return out


@pytest.fixture(scope="session")
def synth() -> SimpleNamespace:
    """The scenario generators (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(
        T0=T0,
        Quake=Quake,
        make_devices=make_devices,
        quake_triggers=quake_triggers,
        noise_triggers=noise_triggers,
    )


@pytest.fixture(scope="session")
def town() -> Scenario:
    """20,000 steady phones in an 80-km disk (~1 per km², a 0.1-1% penetration town)."""
    return make_devices(np.random.default_rng(42), 20_000, 80.0)
