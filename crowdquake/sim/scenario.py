"""A scenario: phones of a region + an earthquake (or none) + noise + look-alikes over a span.

Every scenario is built from a ``ScenarioSpec`` and its own ``numpy.random.Generator`` seeded
with ``(suite seed, scenario index)``, so one scenario can be rebuilt alone, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import ActiveDevices
from crowdquake.sim.catalog import Quake
from crowdquake.sim.noise import (
    BACKGROUND_RATE_RANGE_PER_HOUR,
    background_triggers,
    building_population,
    building_triggers,
    storm_triggers,
    track_population,
    train_triggers,
)
from crowdquake.sim.population import (
    Population,
    concat_populations,
    draw_steady,
    place_phones,
)
from crowdquake.sim.shaking import earthquake_triggers, predicted_median_pga_ms2
from crowdquake.sim.triggertable import TriggerTable

Kind = Literal["earthquake", "noise", "lookalike"]
LookalikeKind = Literal["storm", "building", "train"]

# Detectable earthquake (evaluation definition): at least this many steady phones within
# DETECTABLE_RADIUS_KM of the epicentre whose predicted median PGA exceeds 0.01 g.
DETECTABLE_MIN_DEVICES = 10
DETECTABLE_RADIUS_KM = 30.0
# phones counted in the azimuthal gap (the epicentre "outside the phone cloud" class)
GAP_RADIUS_KM = 100.0
DETECTABLE_PGA_MS2 = 0.01 * 9.80665

QUAKE_LEAD_S = 30.0  # scenario starts this long before the origin (background only)
QUAKE_TAIL_S = 150.0  # and ends this long after it


@dataclass(frozen=True)
class Region:
    name: str
    lat_deg: float
    lon_deg: float
    radius_km: float = 150.0


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    kind: Kind
    region: Region
    penetration: float
    start_s: float  # for earthquakes: the origin time
    duration_s: float = QUAKE_LEAD_S + QUAKE_TAIL_S
    quake: Quake | None = None
    lookalike: LookalikeKind | None = None


@dataclass(frozen=True)
class Snapshot:
    """Active (steady) devices from ``start_s`` on, and their heartbeat times."""

    start_s: float
    active: ActiveDevices
    heartbeat_s: np.ndarray


@dataclass(frozen=True)
class Scenario:
    spec: ScenarioSpec
    start_s: float
    end_s: float
    triggers: TriggerTable  # sorted by server arrival time
    snapshots: tuple[Snapshot, ...]
    detectable: bool = False
    background_rate_per_hour: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def quake(self) -> Quake | None:
        return self.spec.quake

    @property
    def region_days(self) -> float:
        """Noise exposure this scenario contributes to the false-event rate (0 for quakes)."""
        return 0.0 if self.spec.kind == "earthquake" else (self.end_s - self.start_s) / 86400.0

    def physical_limit_s(self, n: int = 4) -> float:
        """Server arrival of the n-th genuine trigger: no method can do better than that."""
        if self.quake is None:
            return float("nan")
        rec = self.triggers.received_s[self.triggers.label == self.quake.event_id]
        return float(np.sort(rec)[n - 1]) if rec.size >= n else float("nan")


def _snapshot(
    rng: np.random.Generator, pop: Population, steady: np.ndarray, at_s: float
) -> Snapshot:
    # Steady phones send a heartbeat every 10 minutes; the last one fell somewhere in that span.
    active = pop.active(steady)
    return Snapshot(at_s, active, at_s - rng.uniform(0.0, 600.0, len(active)))


def is_detectable(quake: Quake, pop: Population, steady: np.ndarray) -> bool:
    lat, lon = pop.lat_deg[steady], pop.lon_deg[steady]
    near = haversine_km(quake.lat_deg, quake.lon_deg, lat, lon) <= DETECTABLE_RADIUS_KM
    pga = predicted_median_pga_ms2(quake, lat[near], lon[near])
    return int(np.count_nonzero(pga > DETECTABLE_PGA_MS2)) >= DETECTABLE_MIN_DEVICES


def azimuthal_gap_deg(quake: Quake, lat_deg: np.ndarray, lon_deg: np.ndarray) -> float:
    """Largest azimuthal gap (degrees) of the phones within GAP_RADIUS_KM of the epicentre.

    The azimuthal gap is the classic measure of how well stations surround a source (e.g.
    Bondar, Myers, Engdahl & Bergman 2004, GJI 156(3) 483-496, ground-truth criteria). Above
    180 degrees every phone lies in one half-plane: the epicentre is outside the phone cloud
    (offshore, or a desert with phones only in a town to one side). 360 without phones.
    """
    near = haversine_km(quake.lat_deg, quake.lon_deg, lat_deg, lon_deg) <= GAP_RADIUS_KM
    if np.count_nonzero(near) < 2:
        return 360.0
    lat0, lat1 = np.radians(quake.lat_deg), np.radians(lat_deg[near])
    dlon = np.radians(lon_deg[near] - quake.lon_deg)
    az = np.degrees(
        np.arctan2(
            np.sin(dlon) * np.cos(lat1),
            np.cos(lat0) * np.sin(lat1) - np.sin(lat0) * np.cos(lat1) * np.cos(dlon),
        )
    )
    az = np.sort(np.mod(az, 360.0))
    gaps = np.diff(np.concatenate([az, [az[0] + 360.0]]))
    return float(gaps.max())


def build_scenario(
    spec: ScenarioSpec, rng: np.random.Generator, population: Population | None = None
) -> Scenario:
    """Simulate one scenario. ``population`` may be passed to reuse a region's phones."""
    r = spec.region
    pop = (
        population
        if population is not None
        else place_phones(rng, r.lat_deg, r.lon_deg, r.radius_km, spec.penetration)
    )
    rate = float(rng.uniform(*BACKGROUND_RATE_RANGE_PER_HOUR))
    if spec.kind == "earthquake":
        assert spec.quake is not None
        return _earthquake(spec, rng, pop, rate)
    if spec.kind == "noise":
        return _noise(spec, rng, pop, rate)
    return _lookalike(spec, rng, pop, rate)


def _earthquake(
    spec: ScenarioSpec, rng: np.random.Generator, pop: Population, rate: float
) -> Scenario:
    quake = spec.quake
    assert quake is not None
    start, end = quake.origin_time_s - QUAKE_LEAD_S, quake.origin_time_s + QUAKE_TAIL_S
    steady = draw_steady(rng, pop, quake.origin_time_s)
    table = TriggerTable.concat(
        [
            earthquake_triggers(rng, quake, pop, steady),
            background_triggers(rng, pop, start, end, rate, steady_by_hour=[steady]),
        ]
    )
    return Scenario(
        spec,
        start,
        end,
        table.sorted_by_received(),
        (_snapshot(rng, pop, steady, start),),
        is_detectable(quake, pop, steady),
        rate,
        {
            "n_installed": float(len(pop)),
            "n_steady": float(steady.sum()),
            "azimuthal_gap_deg": azimuthal_gap_deg(quake, pop.lat_deg[steady], pop.lon_deg[steady]),
        },
    )


def _noise(spec: ScenarioSpec, rng: np.random.Generator, pop: Population, rate: float) -> Scenario:
    start, end = spec.start_s, spec.start_s + spec.duration_s
    n_hours = int(np.ceil(spec.duration_s / 3600.0))
    steady = [draw_steady(rng, pop, start + 3600.0 * h) for h in range(n_hours)]
    table = background_triggers(rng, pop, start, end, rate, steady_by_hour=steady)
    snaps = tuple(_snapshot(rng, pop, s, start + 3600.0 * h) for h, s in enumerate(steady))
    return Scenario(
        spec,
        start,
        end,
        table.sorted_by_received(),
        snaps,
        False,
        rate,
        {"n_installed": float(len(pop))},
    )


def _lookalike(
    spec: ScenarioSpec, rng: np.random.Generator, pop: Population, rate: float
) -> Scenario:
    start, end = spec.start_s, spec.start_s + spec.duration_s
    event_s = start + 0.25 * spec.duration_s
    # Centre the look-alike on a random phone so that it happens where people are.
    k = int(rng.integers(0, max(len(pop), 1)))
    center = (
        (pop.lat_deg[k], pop.lon_deg[k]) if len(pop) else (spec.region.lat_deg, spec.region.lon_deg)
    )
    extra: list[TriggerTable] = []
    if spec.lookalike == "building":
        bld = building_population(rng, center, "bld")
        full = concat_populations([pop, bld])
        steady = np.concatenate([draw_steady(rng, pop, event_s), np.ones(len(bld), bool)])
        extra.append(building_triggers(rng, bld, event_s))
    elif spec.lookalike == "train":
        track, along_km = track_population(rng, center, "trk")
        full = concat_populations([pop, track])
        steady = np.concatenate([draw_steady(rng, pop, event_s), np.ones(len(track), bool)])
        extra.append(train_triggers(rng, track, along_km, event_s))
    else:
        full = pop
        steady = draw_steady(rng, pop, event_s)
        extra.append(storm_triggers(rng, pop, steady, event_s, center))
    table = TriggerTable.concat(
        [*extra, background_triggers(rng, full, start, end, rate, steady_by_hour=[steady] * 24)]
    )
    return Scenario(
        spec,
        start,
        end,
        table.sorted_by_received(),
        (_snapshot(rng, full, steady, start),),
        False,
        rate,
        {"n_installed": float(len(full))},
    )
