"""Incremental trigger reads by snapshot visibility (PostgreSQL): nothing missed, nothing twice,
even across cut-off reads and commits that land behind the cursor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from crowdquake.storage import migrate
from crowdquake.storage.models import Device, Trigger
from crowdquake.storage.queries import ReadPosition, triggers_since
from crowdquake.storage.session import make_engine, make_session_factory
from tests.functional.live import PG_URL, fresh_pg_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs CROWDQUAKE_TEST_DATABASE_URL"),
]
REGION = "822837fffffffff"
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    url = fresh_pg_database(PG_URL, "readpos")
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(
            Device(
                id=DEVICE,
                token_hash="x" * 64,
                platform="other",
                app_version="t",
                model_version="t",
                created_at=T0,
                status="active",
                reputation=1.0,
            )
        )
        session.commit()
    yield engine
    engine.dispose()


DEVICE = uuid.uuid4()


def _commit_triggers(engine: Engine, received_s: list[float]) -> set[uuid.UUID]:
    """One committed transaction with a trigger per ``received_at`` offset (s after T0)."""
    ids = set()
    with make_session_factory(engine)() as session:
        for offset in received_s:
            trigger_id = uuid.uuid4()
            ids.add(trigger_id)
            session.add(
                Trigger(
                    id=trigger_id,
                    device_id=DEVICE,
                    trigger_time=T0 + timedelta(seconds=offset - 1),
                    received_at=T0 + timedelta(seconds=offset),
                    clock_offset_s=0.0,
                    lat_deg=38.2,
                    lon_deg=-122.3,
                    accuracy_m=10.0,
                    cell="86283082fffffff",
                    region_key=REGION,
                    pga_ms2=0.1,
                    score=0.9,
                    model_version="t",
                    body_digest="d",
                    status="new",
                )
            )
        session.commit()
    return ids


def _read(engine: Engine, position: ReadPosition, limit: int) -> list[uuid.UUID]:
    with make_session_factory(engine)() as session:
        start = T0 - timedelta(seconds=60)
        rows = triggers_since(session, [REGION], start, start, position, limit)
        session.commit()
    return [r.id for r in rows]


def test_reads_return_each_committed_trigger_once(pg_engine: Engine) -> None:
    position = ReadPosition()
    first = _commit_triggers(pg_engine, [1.0, 2.0, 3.0])
    assert set(_read(pg_engine, position, 100)) == first
    assert _read(pg_engine, position, 100) == []  # nothing new

    second = _commit_triggers(pg_engine, [4.0, 5.0])
    assert set(_read(pg_engine, position, 100)) == second


def test_cut_off_reads_resume_and_late_commits_behind_the_cursor_are_not_lost(
    pg_engine: Engine,
) -> None:
    position = ReadPosition()
    _read(pg_engine, position, 10_000)  # start after what earlier tests committed
    batch = _commit_triggers(pg_engine, [float(10 + k) for k in range(25)])
    seen: list[uuid.UUID] = _read(pg_engine, position, 10)
    assert len(seen) == 10 and position.cursor is not None
    # A commit whose received_at lies before the cursor (a slow request) must still come back.
    late = _commit_triggers(pg_engine, [9.5])
    while True:
        got = _read(pg_engine, position, 10)
        seen += got
        if len(got) < 10:
            break
    assert position.cursor is None
    assert len(seen) == len(set(seen))
    assert set(seen) == batch | late
