from __future__ import annotations

from crowdquake.api.ratelimit import MemoryRateLimiter, make_rate_limiter


def test_fixed_window_counts_per_key_and_resets() -> None:
    now = [120.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert [limiter.hit("a", 2) for _ in range(3)] == [None, None, 60]
    assert limiter.hit("b", 2) is None
    now[0] = 150.0
    assert limiter.hit("a", 2) == 30
    now[0] = 180.0
    assert limiter.hit("a", 2) is None


def test_factory_rejects_unknown_storage() -> None:
    assert isinstance(make_rate_limiter("memory://"), MemoryRateLimiter)
    try:
        make_rate_limiter("ftp://x")
    except ValueError as exc:
        assert "ftp" in str(exc)
    else:
        raise AssertionError("expected ValueError")
