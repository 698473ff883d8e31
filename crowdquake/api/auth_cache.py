"""A short-lived, per-process cache of authenticated device tokens.

Authenticating is a primary-key read per request; at thousands of requests per second that round
trip is a large share of the ingest cost. Caching the verified (token -> device) pair for a few
seconds removes it. The price: blocking a device takes effect within the TTL
(``CROWDQUAKE_AUTH_CACHE_TTL_S``; 0 disables the cache).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from crowdquake.services.devices import AuthenticatedDevice


class DeviceAuthCache:
    def __init__(
        self, ttl_s: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[float, AuthenticatedDevice]] = OrderedDict()

    @staticmethod
    def _key(token: str) -> bytes:
        # Keep digests, not tokens, in memory.
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> AuthenticatedDevice | None:
        if self.ttl_s <= 0:
            return None
        key = self._key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, device = entry
            if expires < self._clock():
                del self._entries[key]
                return None
            return device

    def put(self, token: str, device: AuthenticatedDevice) -> None:
        if self.ttl_s <= 0:
            return
        key = self._key(token)
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl_s, device)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget_device(self, device_id: object) -> None:
        """Drop every cached token of ``device_id`` (after the device was erased)."""
        with self._lock:
            for key in [k for k, (_, d) in self._entries.items() if d.device_id == device_id]:
                del self._entries[key]
