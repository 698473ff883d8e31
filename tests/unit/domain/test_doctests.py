"""Run the ``>>>`` examples of the domain modules as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "crowdquake.domain.alerting",
    "crowdquake.domain.cells",
    "crowdquake.domain.consistency",
    "crowdquake.domain.detection",
    "crowdquake.domain.devices",
    "crowdquake.domain.events",
    "crowdquake.domain.geodesy",
    "crowdquake.domain.groundmotion",
    "crowdquake.domain.traveltime",
    "crowdquake.domain.trust",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
