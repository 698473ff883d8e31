"""Earthquake sources for scenarios: Gutenberg-Richter synthetics and real catalogue events.

* Synthetic magnitudes follow a Gutenberg-Richter law (Gutenberg & Richter 1944, BSSA 34(4)):
  log10 N(>=M) = a - b M, i.e. a truncated exponential density with beta = b ln 10 between
  ``m_min`` and ``m_max``, sampled by inverting its CDF.
* Real events: one week of USGS events (Feb 2018) and a table of notable earthquakes, both in
  ``crowdquake/sim/data`` (provenance and licences in ``data/SOURCES.md``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import numpy as np


@dataclass(frozen=True, slots=True)
class Quake:
    """A true earthquake of a scenario (the simulator's ground truth)."""

    event_id: str
    origin_time_s: float
    lat_deg: float
    lon_deg: float
    depth_km: float
    magnitude: float
    source: str = "synthetic"


def sample_gutenberg_richter(
    rng: np.random.Generator, n: int, m_min: float, m_max: float, b_value: float = 1.0
) -> np.ndarray:
    """Draw ``n`` magnitudes from a truncated Gutenberg-Richter distribution.

    CDF F(M) = (1 - exp(-beta (M - m_min))) / (1 - exp(-beta (m_max - m_min))), beta = b ln 10.
    """
    beta = b_value * np.log(10.0)
    u = rng.random(n)
    span = 1.0 - np.exp(-beta * (m_max - m_min))
    return np.asarray(m_min - np.log(1.0 - u * span) / beta)


def _parse_time_s(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _read_csv(name: str) -> list[dict[str, str]]:
    path = resources.files("crowdquake.sim").joinpath("data", name)
    with path.open("r", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def usgs_week_2018(min_magnitude: float = 3.5) -> list[Quake]:
    """USGS events of 2018-01-31 .. 2018-02-07 with M >= ``min_magnitude`` (vega-datasets)."""
    return [
        Quake(
            r["event_id"],
            _parse_time_s(r["time"]),
            float(r["latitude"]),
            float(r["longitude"]),
            float(r["depth_km"]),
            float(r["magnitude"]),
            "usgs-2018",
        )
        for r in _read_csv("usgs_week_2018_m35.csv")
        if float(r["magnitude"]) >= min_magnitude
    ]


def notable_earthquakes() -> list[Quake]:
    """Well-known damaging earthquakes with their USGS ComCat parameters."""
    return [
        Quake(
            r["event_id"],
            _parse_time_s(r["time"]),
            float(r["latitude"]),
            float(r["longitude"]),
            float(r["depth_km"]),
            float(r["magnitude"]),
            f"notable:{r['name']}",
        )
        for r in _read_csv("notable_earthquakes.csv")
    ]
