"""Per-device request rate limits (fixed one-minute windows).

``memory://`` counts per web process (with N gunicorn workers a device may get up to N times the
limit); ``redis://`` shares the count between every process and machine.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

WINDOW_S = 60
log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> int | None:
        """Count one request; return None if allowed, else seconds until the window resets."""


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def hit(self, key: str, limit: int) -> int | None:
        now = self._clock()
        window = int(now // WINDOW_S)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        if count <= limit:
            return None
        return max(1, math.ceil((window + 1) * WINDOW_S - now))


class RedisRateLimiter:
    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._errors = (redis.RedisError, OSError)
        self._clock = clock

    def hit(self, key: str, limit: int) -> int | None:
        now = self._clock()
        window = int(now // WINDOW_S)
        name = f"crowdquake:rl:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, WINDOW_S * 2)
        try:
            count, _ = pipe.execute()
        except self._errors as exc:
            # Fail open: an unreachable limiter must not stop phones reporting an earthquake.
            log.warning("rate limiter unavailable, allowing request: %s", exc)
            return None
        if int(count) <= limit:
            return None
        return max(1, math.ceil((window + 1) * WINDOW_S - now))


def make_rate_limiter(url: str) -> RateLimiter:
    if url.startswith("memory://"):
        return MemoryRateLimiter()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(url)
    raise ValueError(f"unsupported rate limit storage {url!r}")
