"""Named evaluation suites: which scenarios to simulate (specs only; building is lazy).

``smoke``: one region, a handful of scenarios, seconds (used by the tests).
``standard``: >= 300 earthquake scenarios over 5 regions, day and night, 3 penetrations, plus
real catalogue events, >= 100 noise-only region-days and look-alikes in every region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from crowdquake.sim.catalog import Quake, notable_earthquakes, usgs_week_2018
from crowdquake.sim.population import cities_within
from crowdquake.sim.scenario import LookalikeKind, Region, ScenarioSpec

REGIONS = (
    Region("los_angeles", 34.05, -118.25),
    Region("sf_bay", 37.77, -122.42),
    Region("istanbul", 41.01, 28.97),
    Region("central_italy", 42.35, 13.40),
    Region("santiago", -33.45, -70.67),
)
PENETRATIONS = (1e-4, 3e-4, 1e-3)
# Stratified Gutenberg-Richter: share of synthetic events per magnitude band, b = 1 inside it.
MAGNITUDE_BANDS = ((3.5, 4.5, 0.45), (4.5, 6.0, 0.33), (6.0, 7.0, 0.12), (7.0, 8.0, 0.10))
EPICENTRE_RADIUS_KM = 60.0
YEAR_START_S = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
LOOKALIKES: tuple[LookalikeKind, ...] = ("storm", "building", "train")
PYOCTO_REGIONS = ("los_angeles", "istanbul")


@dataclass(frozen=True)
class Suite:
    name: str
    specs: tuple[ScenarioSpec, ...]
    # Methods that are too slow for the whole suite run on this subset only (name -> predicate).
    subsets: dict[str, Callable[[ScenarioSpec], bool]]
    subset_notes: dict[str, str]


def _origin_time(rng: np.random.Generator, lon_deg: float, night: bool) -> float:
    day = int(rng.integers(0, 365))
    local_h = rng.uniform(0.0, 5.0) if night else rng.uniform(10.0, 17.0)
    utc_h = np.mod(local_h - lon_deg / 15.0, 24.0)
    return float(YEAR_START_S + day * 86400.0 + utc_h * 3600.0)


def _synthetic_quake(
    rng: np.random.Generator, region: Region, name: str, magnitude: float, night: bool
) -> Quake:
    r_km = EPICENTRE_RADIUS_KM * np.sqrt(rng.random())
    az = rng.uniform(0.0, 2 * np.pi)
    lat = region.lat_deg + r_km * np.cos(az) / 111.195
    lon = region.lon_deg + r_km * np.sin(az) / (111.195 * np.cos(np.radians(region.lat_deg)))
    return Quake(
        name,
        _origin_time(rng, lon, night),
        float(lat),
        float(lon),
        float(rng.uniform(5.0, 20.0)),
        round(float(magnitude), 2),
    )


def _band_magnitude(rng: np.random.Generator, i: int, n: int) -> float:
    from crowdquake.sim.catalog import sample_gutenberg_richter

    edges = np.cumsum([b[2] for b in MAGNITUDE_BANDS])
    band = MAGNITUDE_BANDS[int(np.searchsorted(edges, (i + 0.5) / n))]
    return float(sample_gutenberg_richter(rng, 1, band[0], band[1])[0])


def _earthquakes(
    rng: np.random.Generator,
    regions: tuple[Region, ...],
    penetrations: tuple[float, ...],
    per_cell: int,
) -> list[ScenarioSpec]:
    specs = []
    for region in regions:
        for pen in penetrations:
            for i in range(per_cell):
                name = f"eq-{region.name}-{pen:g}-{i:03d}"
                q = _synthetic_quake(
                    rng, region, name, _band_magnitude(rng, i, per_cell), night=i % 2 == 0
                )
                specs.append(
                    ScenarioSpec(name, "earthquake", region, pen, q.origin_time_s, quake=q)
                )
    return specs


def _real_events(penetration: float) -> list[ScenarioSpec]:
    specs = []
    for q in [*notable_earthquakes(), *usgs_week_2018()]:
        # Only events with people nearby can be felt by phones at all.
        if not cities_within(q.lat_deg, q.lon_deg, 50.0):
            continue
        region = Region(f"real:{q.event_id}", q.lat_deg, q.lon_deg)
        name = f"real-{q.event_id}"
        specs.append(
            ScenarioSpec(
                name,
                "earthquake",
                region,
                penetration,
                q.origin_time_s,
                quake=Quake(
                    name,
                    q.origin_time_s,
                    q.lat_deg,
                    q.lon_deg,
                    max(q.depth_km, 1.0),
                    q.magnitude,
                    q.source,
                ),
            )
        )
    return specs


def _noise(
    rng: np.random.Generator,
    regions: tuple[Region, ...],
    penetrations: tuple[float, ...],
    days: float,
) -> list[ScenarioSpec]:
    specs = []
    for region in regions:
        for pen in penetrations:
            start = YEAR_START_S + int(rng.integers(0, 300)) * 86400.0
            specs.append(
                ScenarioSpec(
                    f"noise-{region.name}-{pen:g}",
                    "noise",
                    region,
                    pen,
                    start,
                    duration_s=days * 86400.0,
                )
            )
    return specs


def _lookalikes(
    rng: np.random.Generator, regions: tuple[Region, ...], pen: float, per_kind: int
) -> list[ScenarioSpec]:
    specs = []
    for region in regions:
        for kind in LOOKALIKES:
            for i in range(per_kind):
                start = _origin_time(rng, region.lon_deg, night=i % 2 == 0)
                specs.append(
                    ScenarioSpec(
                        f"look-{kind}-{region.name}-{i}",
                        "lookalike",
                        region,
                        pen,
                        start,
                        duration_s=1800.0,
                        lookalike=kind,
                    )
                )
    return specs


def smoke_suite(seed: int) -> Suite:
    rng = np.random.default_rng([seed, 1])
    region = REGIONS[0]
    specs = []
    for i, m in enumerate((4.2, 5.0, 6.3)):
        q = _synthetic_quake(rng, region, f"eq-smoke-{i}", m, night=i % 2 == 0)
        specs.append(ScenarioSpec(q.event_id, "earthquake", region, 2e-4, q.origin_time_s, quake=q))
    specs += [
        ScenarioSpec("noise-smoke", "noise", region, 2e-4, YEAR_START_S, duration_s=3 * 3600.0)
    ]
    specs += _lookalikes(rng, (region,), 2e-4, 1)
    return Suite("smoke", tuple(specs), {}, {})


def standard_suite(seed: int) -> Suite:
    rng = np.random.default_rng([seed, 2])
    specs = _earthquakes(rng, REGIONS, PENETRATIONS, per_cell=20)
    specs += _real_events(1e-3)
    specs += _noise(rng, REGIONS, PENETRATIONS, days=7.0)
    specs += _lookalikes(rng, REGIONS, 1e-3, per_kind=4)

    def pyocto_subset(s: ScenarioSpec) -> bool:
        return s.region.name in PYOCTO_REGIONS and s.kind != "lookalike" and (s.penetration <= 1e-4)

    return Suite(
        "standard",
        tuple(specs),
        {"pyocto": pyocto_subset},
        {
            "pyocto": "PyOcto (seconds per run on ~100 one-pick stations) runs on a subset: "
            "Los Angeles and Istanbul, earthquakes and noise at 0.01% penetration (40 "
            "earthquakes, 14 region-days); look-alikes are left out: one 30-min storm "
            "(3,859 triggers) did not finish in 300 s CPU and building/train half-hours at "
            "0.1% took minutes each (re-runs over windows of pure background)"
        },
    )


SUITES: dict[str, Callable[[int], Suite]] = {"smoke": smoke_suite, "standard": standard_suite}
