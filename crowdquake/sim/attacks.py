"""Attack scenarios: fake phones that try to raise a false event or alert in one city.

A scenario is one city (Los Angeles) with ``n_honest`` honest active phones (background false
triggers at MyShake's rate, see ``noise``), and an attacker with ``k`` devices of a given age
registered from ``n_networks`` network prefixes in ``n_bursts`` registration bursts. The
attacks (docs/evaluation.md, "Attack suite"):

* ``burst``: every fake phone triggers at one instant; ``burst_jitter``: + U(0, 0.5) s;
* ``moveout``: a forged P-wave moveout from a fake epicentre, t = t0 + r / 6.5 km/s + N(0, 0.1 s),
  PGA = our own ground-motion model's median for an M5 (the attacker knows our science);
* ``moved_m6``: the first k triggers of a simulated M6 (the simulator's physics, S phases,
  scatter) moved to the city and to now;
* ``heartbeats``: the moveout attack from devices that also send steady heartbeats from the
  places they claim (inflating the denominators there);
* ``sleepers``: the moveout attack from devices registered ``age_days`` (default 42) earlier
  that sent a heartbeat every day since; ``old_sleepers``: the same, 120 days old (full
  trust: what a patient attacker gets);
* ``inflate``: a real M4.0 under the city (honest phones trigger as the simulator says) plus
  fake triggers fitting its moveout with the PGA of an M6: success is an event or alert whose
  magnitude is at least 0.5 above the truth.

Honest phones: ages exponential with mean 365 days, heartbeats on 30-100% of their days,
registered from one of ``HONEST_NETWORKS`` prefixes (our assumption for a city's address space
seen by registrations; documented), registration hours spread over their age.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.groundmotion import joyner_boore_km, pga_median_ms2
from crowdquake.domain.trust import DeviceProfile, device_trust
from crowdquake.domain.types import ActiveDevices
from crowdquake.sim.catalog import Quake
from crowdquake.sim.noise import BACKGROUND_RATE_RANGE_PER_HOUR, background_triggers
from crowdquake.sim.population import KM_PER_DEG_LAT, PhoneModel, Population
from crowdquake.sim.shaking import earthquake_triggers
from crowdquake.sim.triggertable import TriggerTable

ATTACKS = (
    "burst",
    "burst_jitter",
    "moveout",
    "moved_m6",
    "heartbeats",
    "sleepers",
    "inflate",
    "old_sleepers",
)
ATTACK_LABEL = "attack"
CITY = ("los_angeles", 34.05, -118.25)
CITY_SIGMA_KM = 25.0  # sqrt(3.9 M people / (pi x 2,000 /km²)), see population.urban_sigma_km
HONEST_NETWORKS = 5000
HONEST_MEAN_AGE_DAYS = 365.0
FAKE_RADIUS_KM = 30.0  # fake phones claim positions within this of the fake epicentre
FORGED_VP_KM_S = 6.5
FORGED_PICK_SIGMA_S = 0.1
LEAD_S = 60.0
TAIL_S = 120.0
DAY_S = 86400.0
OLD_SLEEPER_AGE_DAYS = 120.0  # past the trust ramp (90 days): full trust
T_REF_S = 1.767e9  # 2026-01-02, a reference "now" for device ages
REGISTRATION_STEP_S = 10.0  # the attacker's script registers a device every 10 s in a burst


@dataclass(frozen=True)
class AttackSpec:
    attack: str
    n_honest: int
    k: int
    night: bool
    seed: int
    age_days: float = 10.0
    n_networks: int = 32
    n_bursts: int = 1

    @property
    def name(self) -> str:
        tod = "night" if self.night else "day"
        return f"{self.attack}-{self.n_honest}-{tod}-k{self.k}-s{self.seed}"


def default_spec(attack: str, n_honest: int, k: int, night: bool, seed: int) -> AttackSpec:
    """The attacker of the acceptance targets: fresh (10 days), <= 32 prefixes, one burst;
    sleepers are 42 days old, spread over 32 prefixes and 32 bursts; old sleepers the same
    but ``OLD_SLEEPER_AGE_DAYS`` old (full trust: the patient attacker's worst case)."""
    if attack == "sleepers":
        return AttackSpec(attack, n_honest, k, night, seed, 42.0, 32, 32)
    if attack == "old_sleepers":
        return AttackSpec(attack, n_honest, k, night, seed, OLD_SLEEPER_AGE_DAYS, 32, 32)
    return AttackSpec(attack, n_honest, k, night, seed)


@dataclass(frozen=True)
class AttackScenario:
    spec: AttackSpec
    start_s: float
    end_s: float
    triggers: TriggerTable  # sorted by received_s; label ATTACK_LABEL for fake triggers
    active: ActiveDevices
    profiles: dict[str, DeviceProfile]
    quake: Quake | None  # the real earthquake (inflate) or None

    @property
    def name(self) -> str:
        return self.spec.name


def _origin(spec: AttackSpec) -> float:
    local_h = 3.0 if spec.night else 14.0
    utc_h = (local_h - CITY[2] / 15.0) % 24.0
    return T_REF_S - (T_REF_S % DAY_S) + utc_h * 3600.0


def _offset(
    lat: float, lon: float, dx_km: np.ndarray, dy_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return (
        lat + dy_km / KM_PER_DEG_LAT,
        lon + dx_km / (KM_PER_DEG_LAT * np.cos(np.radians(lat))),
    )


def _phones(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, prefix: str) -> Population:
    pm = PhoneModel()
    n = lat.size
    thr = np.maximum(
        rng.normal(pm.threshold_mean_ms2, pm.threshold_sd_ms2, n), pm.threshold_floor_ms2
    )
    return Population(
        tuple(f"{prefix}{i:06d}" for i in range(n)),
        lat,
        lon,
        thr,
        rng.normal(0.0, pm.coupling_sigma_ln, n),
        rng.normal(0.0, pm.clock_sigma_s, n),
    )


def honest_city(rng: np.random.Generator, n: int) -> tuple[Population, dict[str, DeviceProfile]]:
    """``n`` honest active phones around the city centre and their trust profiles."""
    dx = rng.normal(0.0, CITY_SIGMA_KM, n)
    dy = rng.normal(0.0, CITY_SIGMA_KM, n)
    lat, lon = _offset(CITY[1], CITY[2], dx, dy)
    pop = _phones(rng, lat, lon, "h")
    age = rng.exponential(HONEST_MEAN_AGE_DAYS, n)
    hb_days = age * rng.uniform(0.3, 1.0, n)
    nets = rng.integers(0, HONEST_NETWORKS, n)
    reg_hour = ((T_REF_S - age * DAY_S) // 3600).astype(np.int64)
    profiles = {
        d: DeviceProfile(device_trust(a, h), f"net{k}", f"h{r}", T_REF_S - a * DAY_S)
        for d, a, h, k, r in zip(
            pop.device_ids,
            age.tolist(),
            hb_days.tolist(),
            nets.tolist(),
            reg_hour.tolist(),
            strict=True,
        )
    }
    return pop, profiles


def _unit(device_id: str, salt: str) -> float:
    """A uniform number in (0, 1) from a hash of the device id (stable across runs)."""
    return (zlib.crc32(f"{salt}:{device_id}".encode()) + 0.5) / 2.0**32


def honest_profile(device_id: str) -> DeviceProfile:
    """One honest phone's profile, the distribution of ``honest_city`` (age exponential with
    mean ``HONEST_MEAN_AGE_DAYS``, heartbeats on 30-100% of its days, one of
    ``HONEST_NETWORKS`` prefixes, registration hour from its age), drawn from a hash of
    its id.

    >>> honest_profile("a") == honest_profile("a")
    True
    """
    age = -HONEST_MEAN_AGE_DAYS * math.log(_unit(device_id, "age"))
    hb_days = age * (0.3 + 0.7 * _unit(device_id, "hb"))
    net = int(_unit(device_id, "net") * HONEST_NETWORKS)
    reg_hour = int((T_REF_S - age * DAY_S) // 3600)
    return DeviceProfile(
        device_trust(age, hb_days), f"net{net}", f"h{reg_hour}", T_REF_S - age * DAY_S
    )


def attacker_profiles(spec: AttackSpec, ids: tuple[str, ...]) -> dict[str, DeviceProfile]:
    """The fake devices' profiles: the trust their age and daily heartbeats earn, round-robin
    over the attacker's networks and bursts. A burst is a registration hour (the key the
    server stores): burst j registered ``age_days`` + j hours before the reference time, its
    devices ``REGISTRATION_STEP_S`` apart (a script registering them one after the other)."""
    trust = device_trust(spec.age_days, spec.age_days)
    out: dict[str, DeviceProfile] = {}
    for i, d in enumerate(ids):
        j = i % spec.n_bursts
        step = min((i // spec.n_bursts) * REGISTRATION_STEP_S, 3599.0)
        reg_s = T_REF_S - spec.age_days * DAY_S - j * 3600.0 + step
        out[d] = DeviceProfile(trust, f"atk-net{i % spec.n_networks}", f"atk-burst{j}", reg_s)
    return out


def _forged(
    rng: np.random.Generator,
    k: int,
    lat0: float,
    lon0: float,
    t0: float,
    magnitude: float,
    depth_km: float = 8.0,
) -> TriggerTable:
    """A forged P moveout: positions within FAKE_RADIUS_KM, GMPE-median PGA."""
    r = FAKE_RADIUS_KM * np.sqrt(rng.random(k))
    az = rng.uniform(0.0, 2 * np.pi, k)
    lat, lon = _offset(lat0, lon0, r * np.sin(az), r * np.cos(az))
    d = np.asarray(haversine_km(lat0, lon0, lat, lon))
    t = t0 + np.hypot(d, depth_km) / FORGED_VP_KM_S + rng.normal(0.0, FORGED_PICK_SIGMA_S, k)
    pga = pga_median_ms2(magnitude, joyner_boore_km(d, magnitude, True), 760.0)
    return _fake_table(rng, lat, lon, t, np.asarray(pga))


def _fake_table(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, t: np.ndarray, pga: np.ndarray
) -> TriggerTable:
    k = t.size
    return TriggerTable(
        device_id=np.array([f"x{i:06d}" for i in range(k)], dtype=object),
        time_s=t,
        received_s=t + rng.uniform(0.2, 0.6, k),  # a scripted attacker posts at once
        lat_deg=lat,
        lon_deg=lon,
        pga_ms2=pga,
        label=np.full(k, ATTACK_LABEL, dtype=object),
        phase=np.full(k, "P", dtype=object),
    )


@dataclass(frozen=True)
class City:
    """The part of a scenario that does not depend on the attacker: honest phones, their
    profiles and triggers, the fake epicentre and origin time, the real earthquake if any.
    Built once and shared by every k of one attack x background x time of day x seed."""

    spec: AttackSpec  # with k = 0
    honest: Population
    profiles: dict[str, DeviceProfile]
    tables: tuple[TriggerTable, ...]
    lat0: float
    lon0: float
    t0: float
    quake: Quake | None


def build_city(spec: AttackSpec) -> City:
    """The honest city of a scenario (deterministic in ``spec`` without ``k``)."""
    rng = np.random.default_rng(
        [spec.seed, 9, spec.n_honest, int(spec.night), ATTACKS.index(spec.attack)]
    )
    t0 = _origin(spec)
    start, end = t0 - LEAD_S, t0 + TAIL_S
    honest, profiles = honest_city(rng, spec.n_honest)
    rate = float(rng.uniform(*BACKGROUND_RATE_RANGE_PER_HOUR))
    steady = np.ones(len(honest), dtype=bool)
    tables = [background_triggers(rng, honest, start, end, rate, steady_by_hour=[steady])]
    # the fake epicentre: within 20 km of the city centre
    r = 20.0 * np.sqrt(rng.random())
    az = rng.uniform(0.0, 2 * np.pi)
    lat0, lon0 = (
        float(v)
        for v in _offset(CITY[1], CITY[2], np.array(r * np.sin(az)), np.array(r * np.cos(az)))
    )
    quake: Quake | None = None
    if spec.attack == "inflate":
        quake = Quake("real-m4", t0, lat0, lon0, 8.0, 4.0)
        tables.append(earthquake_triggers(rng, quake, honest, steady))
    base = AttackSpec(
        spec.attack,
        spec.n_honest,
        0,
        spec.night,
        spec.seed,
        spec.age_days,
        spec.n_networks,
        spec.n_bursts,
    )
    return City(base, honest, profiles, tuple(tables), lat0, lon0, t0, quake)


def build_attack(spec: AttackSpec, city: City | None = None) -> AttackScenario:
    """Simulate one attack scenario (deterministic in ``spec``); ``city``: its honest part
    from ``build_city`` when already built (the same for every k)."""
    if city is None:
        city = build_city(spec)
    lat0, lon0, t0 = city.lat0, city.lon0, city.t0
    start, end = t0 - LEAD_S, t0 + TAIL_S
    rng = np.random.default_rng(
        [spec.seed, 10, spec.n_honest, int(spec.night), ATTACKS.index(spec.attack), spec.k]
    )
    k = spec.k
    a = spec.attack
    if a in ("burst", "burst_jitter"):
        rr = FAKE_RADIUS_KM * np.sqrt(rng.random(k))
        aa = rng.uniform(0.0, 2 * np.pi, k)
        lat, lon = _offset(lat0, lon0, rr * np.sin(aa), rr * np.cos(aa))
        t = np.full(k, t0) + (rng.uniform(0.0, 0.5, k) if a == "burst_jitter" else 0.0)
        fake = _fake_table(rng, lat, lon, t, np.full(k, 0.3))
    elif a in ("moveout", "heartbeats", "sleepers", "old_sleepers"):
        fake = _forged(rng, k, lat0, lon0, t0, 5.0)
    elif a == "moved_m6":
        fake = _moved_m6(rng, k, lat0, lon0, t0)
    elif a == "inflate":
        fake = _forged(rng, k, lat0, lon0, t0, 6.0)
    else:
        raise ValueError(f"unknown attack {a!r}")
    fake_ids = tuple(str(x) for x in fake.device_id)
    profiles = dict(city.profiles)
    profiles.update(attacker_profiles(spec, fake_ids))
    honest = city.honest
    ids = list(honest.device_ids)
    lats, lons = [honest.lat_deg], [honest.lon_deg]
    if a in ("heartbeats", "sleepers", "old_sleepers") and len(fake):
        # the fake devices' heartbeats place them where their triggers claim to be
        ids += fake_ids
        lats.append(fake.lat_deg)
        lons.append(fake.lon_deg)
    active = ActiveDevices(tuple(ids), np.concatenate(lats), np.concatenate(lons))
    return AttackScenario(
        spec,
        start,
        end,
        TriggerTable.concat([*city.tables, fake]).sorted_by_received(),
        active,
        profiles,
        city.quake,
    )


def _moved_m6(
    rng: np.random.Generator, k: int, lat0: float, lon0: float, t0: float
) -> TriggerTable:
    """The first k triggers of a simulated M6 (dense phones around it) at (lat0, lon0, t0)."""
    src = Quake("m6", t0, lat0, lon0, 10.0, 6.0)
    n = max(4 * k, 200)
    r = 80.0 * np.sqrt(rng.random(n))
    az = rng.uniform(0.0, 2 * np.pi, n)
    lat, lon = _offset(lat0, lon0, r * np.sin(az), r * np.cos(az))
    pop = _phones(rng, lat, lon, "m")
    tab = earthquake_triggers(rng, src, pop, np.ones(n, dtype=bool))
    order = np.argsort(tab.received_s, kind="stable")[:k]
    sub = tab.take(order)
    return _fake_table(rng, sub.lat_deg, sub.lon_deg, sub.time_s, sub.pga_ms2)
