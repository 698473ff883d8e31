"""Helpers for tests that start real processes: fresh databases, ports, workers, polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url

from crowdquake.storage.session import make_engine

T = TypeVar("T")
PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CROWDQUAKE_TEST_REDIS_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_pg_database(url: str, suffix: str) -> str:
    """Drop and create ``<database>_<suffix>`` next to the test database; return its URL."""
    target = make_url(url).set(database=f"{make_url(url).database}_{suffix}")
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


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
