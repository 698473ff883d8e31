"""Shared fixtures: small, fast populations and scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from crowdquake.sim.catalog import Quake
from crowdquake.sim.population import Population, place_phones
from crowdquake.sim.scenario import Region

LA = Region("los_angeles", 34.05, -118.25, 100.0)
# 2025-01-01 11:00 UTC = ~03:07 local solar time in Los Angeles: most phones are steady.
NIGHT_S = 1735729200.0


@pytest.fixture(scope="session")
def la_population() -> Population:
    return place_phones(np.random.default_rng(5), LA.lat_deg, LA.lon_deg, LA.radius_km, 2e-4)


@pytest.fixture()
def clear_quake() -> Quake:
    return Quake("q-clear", NIGHT_S, 34.05, -118.25, 10.0, 5.5)
