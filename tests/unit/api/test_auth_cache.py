from __future__ import annotations

import uuid

from crowdquake.api.auth_cache import DeviceAuthCache
from crowdquake.services.devices import AuthenticatedDevice


def test_entries_expire_and_are_bounded() -> None:
    now = [0.0]
    cache = DeviceAuthCache(ttl_s=5, max_entries=2, clock=lambda: now[0])
    device = AuthenticatedDevice(uuid.uuid4(), "m")
    cache.put("a", device)
    assert cache.get("a") == device and cache.get("b") is None
    now[0] = 6.0
    assert cache.get("a") is None
    for token in ("x", "y", "z"):
        cache.put(token, device)
    assert cache.get("x") is None and cache.get("z") == device


def test_zero_ttl_disables() -> None:
    cache = DeviceAuthCache(ttl_s=0)
    cache.put("a", AuthenticatedDevice(uuid.uuid4(), "m"))
    assert cache.get("a") is None
