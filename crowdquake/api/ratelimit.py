"""Request rate limits over a sliding 60 s window (a log of accepted requests per key).

A key is allowed ``limit`` requests in ANY interval of ``WINDOW_S`` seconds, not per calendar
minute: a fixed window lets a client send ``limit`` just before a minute boundary and ``limit``
again just after it. Only accepted requests are logged; a refused one costs the client nothing,
and ``hit`` answers how long until the oldest logged request leaves the window (Retry-After).

``memory://`` counts per web process (with N gunicorn workers a key may get up to N times the
limit); ``redis://`` shares the log between every process and machine (one sorted set per key,
updated atomically by a Lua script; the web hosts' clocks are the time base, as NTP keeps them).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

WINDOW_S = 60.0
log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> int | None:
        """Count one request; return None if allowed, else whole seconds until it would be."""


def _retry_after_s(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._log: dict[str, deque[float]] = {}
        self._swept_at = -math.inf

    def hit(self, key: str, limit: int) -> int | None:
        now = self._clock()
        horizon = now - WINDOW_S
        with self._lock:
            if now - self._swept_at >= WINDOW_S:
                self._sweep(horizon)
                self._swept_at = now
            stamps = self._log.setdefault(key, deque())
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
            if len(stamps) < limit:
                stamps.append(now)
                return None
            return _retry_after_s(stamps[0] - horizon)

    def _sweep(self, horizon: float) -> None:
        """Forget keys with nothing in the window, so idle clients cost no memory."""
        for key in [k for k, stamps in self._log.items() if not stamps or stamps[-1] <= horizon]:
            del self._log[key]


# KEYS[1]: the key's sorted set; ARGV: now (ms), window (ms), limit, a unique member.
# Returns -1 when the request is allowed (and logged), else ms until the oldest entry expires.
_SLIDING_LOG_LUA = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return -1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""


class RedisRateLimiter:
    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_SLIDING_LOG_LUA)
        self._errors = (redis.RedisError, OSError)
        self._clock = clock

    def hit(self, key: str, limit: int) -> int | None:
        now_ms = self._clock() * 1000.0
        member = f"{now_ms:.3f}:{os.urandom(6).hex()}"
        try:
            wait_ms = int(
                self._script(
                    keys=[f"crowdquake:rl:{key}"],
                    args=[f"{now_ms:.3f}", int(WINDOW_S * 1000), limit, member],
                )
            )
        except self._errors as exc:
            # Fail open: an unreachable limiter must not stop phones reporting an earthquake.
            log.warning("rate limiter unavailable, allowing request: %s", exc)
            return None
        return None if wait_ms < 0 else _retry_after_s(wait_ms / 1000.0)


def make_rate_limiter(url: str) -> RateLimiter:
    if url.startswith("memory://"):
        return MemoryRateLimiter()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(url)
    raise ValueError(f"unsupported rate limit storage {url!r}")
