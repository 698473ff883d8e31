"""Corroboration (``domain.corroboration``): new phones' shaking must show on established ones."""

from __future__ import annotations

import numpy as np

from crowdquake.domain.corroboration import corroborate
from crowdquake.domain.devices import DeviceIndex
from crowdquake.domain.trust import DeviceProfile
from crowdquake.domain.types import ActiveDevices

LAT0, LON0 = 34.05, -118.25


def _index(n_est: int, n_new: int) -> tuple[DeviceIndex, list[str], list[str]]:
    rng = np.random.default_rng(3)
    ids_e = [f"e{i}" for i in range(n_est)]
    ids_n = [f"n{i}" for i in range(n_new)]
    n = n_est + n_new
    lat = LAT0 + rng.uniform(-0.05, 0.05, n)
    lon = LON0 + rng.uniform(-0.05, 0.05, n)
    profiles = {d: DeviceProfile(1.0, f"net{i}", "") for i, d in enumerate(ids_e)}
    profiles |= {d: DeviceProfile(0.2, f"atk{i % 4}", "") for i, d in enumerate(ids_n)}
    idx = DeviceIndex(ActiveDevices(tuple(ids_e + ids_n), lat, lon), 8, profiles)
    return idx, ids_e, ids_n


def _run(idx: DeviceIndex, members: list[str]):  # type: ignore[no-untyped-def]
    nets = [idx.profile(d).network for d in members]
    return corroborate(
        idx,
        LAT0,
        LON0,
        members,
        nets,
        established_trust=0.5,
        background_per_device_s=1.3 / 3600.0,
        duration_s=30.0,
    )


def test_new_phones_shaking_alone_is_not_corroborated() -> None:
    idx, est, new = _index(300, 40)
    c = _run(idx, new + est[:1])  # every new phone and one established phone (noise)
    assert c.new_members == 40 and c.established_members == 1
    assert c.log10_p < -10.0  # far fewer established members than equal rates allow
    assert c.log10_bg > -3.0  # ... and one established trigger is noise


def test_real_shaking_on_both_groups_is_corroborated() -> None:
    idx, est, new = _index(300, 40)
    c = _run(idx, est[:150] + new[:20])  # half of each group triggered
    assert c.log10_p > -1.0
    assert c.log10_bg < -3.0  # established phones alone are far above the noise
    assert c.established_witnesses == 150


def test_no_established_phones_means_no_witnesses() -> None:
    idx, _, new = _index(0, 40)
    c = _run(idx, new)
    assert c.established_witnesses == 0 and c.n_established == 0
