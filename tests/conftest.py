"""Shared fixtures: a migrated database per backend and a savepoint-rollback session per test.

Every database test runs on SQLite, and also on PostgreSQL when CROWDQUAKE_TEST_DATABASE_URL is set
(CI sets it: under CI=true a missing URL is an error, not a silent skip).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.config import Settings
from crowdquake.storage import migrate
from crowdquake.storage.session import make_engine

PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CROWDQUAKE_TEST_REDIS_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not (PG_URL and REDIS_URL):
        raise pytest.UsageError(
            "CI=true but CROWDQUAKE_TEST_DATABASE_URL or CROWDQUAKE_TEST_REDIS_URL is not set: "
            "integration tests must run against the real services (see .ci/run)"
        )


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Each commit in the code under test becomes a SAVEPOINT release; the outer transaction
    # is rolled back after the test (SQLAlchemy 2 "join_transaction_mode").
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        instance_dir=str(tmp_path),
        broker_url="memory://",
        result_backend="cache+memory://",
        auth_cache_ttl_s=0,  # tests block devices and expect it to take effect at once
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran on each backend, so a CI log shows PostgreSQL/Redis were used."""
    passed = terminalreporter.stats.get("passed", [])
    postgres = [r for r in passed if "postgresql" in r.nodeid or "test_pipeline_faults" in r.nodeid]
    redis = [r for r in passed if "redis" in r.nodeid or "test_pipeline_faults" in r.nodeid]
    terminalreporter.write_line(
        f"backends: {len(postgres)} passed on PostgreSQL "
        f"({PG_URL.rsplit('@', 1)[-1] or 'not configured'}), "
        f"{len(redis)} passed with Redis ({REDIS_URL or 'not configured'}), "
        f"{len(passed)} passed in all"
    )
