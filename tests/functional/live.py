"""Helpers for tests that start real processes: fresh databases, ports, workers, polling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url

from crowdquake.storage.admin import recreate_postgres_database

T = TypeVar("T")
PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CROWDQUAKE_TEST_REDIS_URL", "")


def fresh_pg_database(url: str, suffix: str) -> str:
    """Drop and create ``<database>_<suffix>`` next to the test database; return its URL."""
    return recreate_postgres_database(url, f"{make_url(url).database}_{suffix}")


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "crowdquake.cli", *args],
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        handle.close()


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str, poll_s: float = 0.2) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
