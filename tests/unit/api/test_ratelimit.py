"""Sliding-window rate limits, in memory and in Redis: no burst across a minute boundary."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdquake.api.ratelimit import (
    WINDOW_S,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    make_rate_limiter,
)
from tests.conftest import REDIS_URL

KINDS = ["memory"] + (["redis"] if REDIS_URL else [])
Clock = list[float]


@pytest.fixture(params=KINDS)
def limiter_and_clock(request: pytest.FixtureRequest) -> Iterator[tuple[RateLimiter, Clock]]:
    now: Clock = [1_000_000.0]
    if request.param == "memory":
        yield MemoryRateLimiter(clock=lambda: now[0]), now
    else:
        yield RedisRateLimiter(REDIS_URL, clock=lambda: now[0]), now


def key() -> str:
    return f"test:{uuid.uuid4()}"  # a fresh key per test: no state shared with other runs


def test_a_burst_across_a_minute_boundary_is_refused(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    """5 per 60 s: 5 just before a calendar-minute boundary, then 5 just after it. A fixed window
    accepted all 10 within 2 s; a sliding window refuses the second 5 until the first expire."""
    limiter, now = limiter_and_clock
    k = key()
    boundary = 60.0 * (now[0] // 60.0 + 1)
    now[0] = boundary - 1.0
    assert [limiter.hit(k, 5) for _ in range(5)] == [None] * 5
    now[0] = boundary + 1.0
    assert [limiter.hit(k, 5) for _ in range(5)] == [58] * 5  # 59 s - 1 s: when the first expire
    now[0] = boundary + 58.5
    assert limiter.hit(k, 5) == 1
    now[0] = boundary + 59.0  # the first five are exactly 60 s old: out of the window
    assert [limiter.hit(k, 5) for _ in range(6)] == [None] * 5 + [60]


def test_keys_are_independent(limiter_and_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, _ = limiter_and_clock
    a, b = key(), key()
    assert [limiter.hit(a, 2) for _ in range(3)] == [None, None, 60]
    assert limiter.hit(b, 2) is None


def test_refused_requests_do_not_extend_the_wait(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, now = limiter_and_clock
    k = key()
    assert limiter.hit(k, 1) is None
    for step in range(1, 60):
        now[0] += 1.0
        assert limiter.hit(k, 1) == 60 - step
    now[0] += 1.0
    assert limiter.hit(k, 1) is None


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=1, max_size=120),
    limit=st.integers(min_value=1, max_value=8),
)
def test_at_most_limit_in_any_window_and_refused_only_when_full(
    gaps: list[float], limit: int
) -> None:
    """For any request times: accepted requests in any window (t - 60 s, t] never exceed the
    limit, and a request is refused only if the window ending at it is already full."""
    now: Clock = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    accepted: list[float] = []
    for gap in gaps:
        now[0] += gap
        in_window = [t for t in accepted if t > now[0] - WINDOW_S]
        allowed = limiter.hit("k", limit) is None
        assert allowed == (len(in_window) < limit)
        if allowed:
            accepted.append(now[0])
    for t in accepted:
        assert sum(1 for u in accepted if t - WINDOW_S < u <= t) <= limit


def test_idle_keys_are_forgotten() -> None:
    now: Clock = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    for i in range(100):
        limiter.hit(f"client-{i}", 5)
    now[0] += WINDOW_S + 1
    limiter.hit("late", 5)
    assert list(limiter._log) == ["late"]


def test_unreachable_store_fails_open() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
    assert all(limiter.hit("k", 1) is None for _ in range(3))


def test_factory_rejects_unknown_storage() -> None:
    make: Callable[[str], RateLimiter] = make_rate_limiter
    assert isinstance(make("memory://"), MemoryRateLimiter)
    with pytest.raises(ValueError, match="ftp"):
        make("ftp://x")
