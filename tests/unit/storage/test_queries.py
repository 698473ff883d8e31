"""``insert_ignoring_duplicates``: same answer on every backend and for every row count."""

from __future__ import annotations

import math
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from crowdquake.storage import migrate
from crowdquake.storage.admin import recreate_postgres_database
from crowdquake.storage.models import Device, Trigger
from crowdquake.storage.queries import (
    COPY_MIN_ROWS,
    array_literal,
    insert_committed_postgres,
    insert_ignoring_duplicates,
    install_copy_stage,
)
from crowdquake.storage.session import make_engine, make_session_factory

PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")


def _device(session: Session, now: datetime) -> uuid.UUID:
    device_id = uuid.uuid4()
    session.add(
        Device(
            id=device_id,
            token_hash="0" * 64,
            platform="other",
            app_version="t",
            model_version="t",
            created_at=now,
            status="active",
            reputation=1.0,
        )
    )
    session.flush()
    return device_id


def _row(device_id: uuid.UUID, now: datetime, i: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "device_id": device_id,
        "trigger_time": now - timedelta(seconds=i),
        "received_at": now,
        "clock_offset_s": 0.0,
        "lat_deg": 35.0 + i * 0.01,
        "lon_deg": 139.0,
        "accuracy_m": 20 if i % 2 else 20.5,  # ints and floats mixed in one column
        "cell": "872830828ffffff",
        "region_key": "822837fffffffff",
        "pga_ms2": None if i % 3 == 0 else 0.1 * i,
        "score": 0.9,
        "model_version": "t",
        "phase_hint": None,
        "body_digest": f"{i:064d}",
        "status": "new",
    }


@pytest.mark.parametrize("n_rows", [1, 7])
def test_returns_only_new_keys_and_stores_values(
    session: Session, now: datetime, n_rows: int
) -> None:
    device_id = _device(session, now)
    rows = [_row(device_id, now, i) for i in range(n_rows)]
    table = Trigger.__table__
    assert insert_ignoring_duplicates(session, table, rows) == {r["id"] for r in rows}  # type: ignore[arg-type]
    extra = _row(device_id, now, n_rows)
    again = insert_ignoring_duplicates(session, table, [*rows, extra])  # type: ignore[arg-type]
    assert again == {extra["id"]}
    count = session.scalar(select(func.count()).select_from(Trigger))
    assert count == n_rows + 1
    for r in rows:
        stored = session.get(Trigger, r["id"])
        assert stored is not None
        assert stored.trigger_time == r["trigger_time"]
        assert stored.pga_ms2 == (None if r["pga_ms2"] is None else pytest.approx(r["pga_ms2"]))
        assert stored.accuracy_m == pytest.approx(float(r["accuracy_m"]))


def test_naive_datetimes_are_refused(session: Session, now: datetime) -> None:
    device_id = _device(session, now)
    rows = [_row(device_id, now, i) for i in range(3)]
    rows[1]["trigger_time"] = datetime(2026, 1, 1)  # naive: the point of the test
    with pytest.raises(Exception, match="naive datetime"):
        insert_ignoring_duplicates(session, Trigger.__table__, rows)  # type: ignore[arg-type]


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only write path (CI sets the URL)")
def test_committed_insert_is_durable_idempotent_and_leaves_the_pool_clean(now: datetime) -> None:
    url = recreate_postgres_database(PG_URL, "crowdquake_test_committed")
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with make_session_factory(engine)() as session:
            device_id = _device(session, now)
            session.commit()
        table = Trigger.__table__
        rows = [_row(device_id, now, i) for i in range(5)]
        assert insert_committed_postgres(engine, table, rows[:1]) == {rows[0]["id"]}  # type: ignore[arg-type]
        assert insert_committed_postgres(engine, table, rows) == {r["id"] for r in rows[1:]}  # type: ignore[arg-type]
        duplicate_in_one = [_row(device_id, now, 9)] * 2
        assert insert_committed_postgres(engine, table, duplicate_in_one) == {  # type: ignore[arg-type]
            duplicate_in_one[0]["id"]
        }
        # Durable: another engine (another connection) sees every row.
        other = make_engine(url)
        with other.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Trigger)) == 6
        other.dispose()
        # The one pooled connection went back in transactional mode, fit for the next user.
        with make_session_factory(engine)() as session:
            session.add(session.get(Trigger, rows[0]["id"]))
            assert session.connection().connection.driver_connection.autocommit is False
            session.rollback()
        bad = [{**_row(device_id, now, 11), "device_id": uuid.uuid4()}]  # no such device
        with pytest.raises(Exception, match="foreign key"):
            insert_committed_postgres(engine, table, bad)  # type: ignore[arg-type]
        assert insert_committed_postgres(engine, table, [_row(device_id, now, 12)])  # type: ignore[arg-type]
    finally:
        engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only write path (CI sets the URL)")
def test_copy_insert_matches_the_unnest_insert(now: datetime) -> None:
    url = recreate_postgres_database(PG_URL, "crowdquake_test_copy")
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    install_copy_stage(engine, Trigger.__table__)  # type: ignore[arg-type]
    table = Trigger.__table__
    n = COPY_MIN_ROWS + 4
    try:
        factory = make_session_factory(engine)
        with factory() as session:
            device_id = _device(session, now)
            session.commit()
            rows = [_row(device_id, now, i) for i in range(n)]
            assert session.connection().connection.info["crowdquake_copy_stages"] == {"triggers"}
            half = n // 2
            assert (
                insert_ignoring_duplicates(session, table, rows[:half])
                == {  # type: ignore[arg-type]
                    r["id"] for r in rows[:half]
                }
            )
            # Twice in one transaction: the first call's rows left the stage with it.
            assert (
                insert_ignoring_duplicates(session, table, rows)
                == {  # type: ignore[arg-type]
                    r["id"] for r in rows[half:]
                }
            )
            session.rollback()  # a rejected request writes nothing
            assert session.scalar(select(func.count()).select_from(Trigger)) == 0
            assert insert_ignoring_duplicates(session, table, rows) == {r["id"] for r in rows}  # type: ignore[arg-type]
            session.commit()
            for r in rows:
                stored = session.get(Trigger, r["id"])
                assert stored is not None
                assert stored.trigger_time == r["trigger_time"]
                assert stored.received_at == r["received_at"]
                assert stored.pga_ms2 == (
                    None if r["pga_ms2"] is None else pytest.approx(r["pga_ms2"])
                )
                assert stored.accuracy_m == pytest.approx(float(r["accuracy_m"]))
                assert stored.body_digest == r["body_digest"]
            assert session.scalar(text("SELECT count(*) FROM copy_stage_triggers")) == 0
        # A database without the table yet (not migrated): the connection still works and
        # inserts take the unnest statement once the table exists.
        bare_url = recreate_postgres_database(PG_URL, "crowdquake_test_copy_bare")
        bare = make_engine(bare_url, pool_size=1, max_overflow=0)
        install_copy_stage(bare, Trigger.__table__)  # type: ignore[arg-type]
        with bare.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
            assert "crowdquake_copy_stages" not in conn.connection.info
        bare.dispose()
    finally:
        engine.dispose()


def test_array_literals_read_back_as_the_same_values(session: Session, now: datetime) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL parses the literals")
    cases: list[tuple[str, str, list[Any]]] = [
        (
            "quoted",
            "text",
            [
                "NULL",
                "",
                " a ",
                "a,b",
                "{x}",
                'say "hi"',
                "back\\slash",
                "ünïcode ✓",
                "t\tn\n",
                None,
            ],
        ),
        ("quoted", "text", ["abc", "NULL", "a b", "", "ünï,{}"]),  # nothing to escape
        (
            "float",
            "double precision",
            [
                0.1,
                1 / 3,
                -0.0,
                5e-324,
                1.7976931348623157e308,
                20,
                None,
                float("inf"),
                -float("inf"),
            ],
        ),
        ("float", "double precision", [0.1, -2.5e-300, 1e22]),  # no NULL, nan or inf
        ("int", "bigint", [0, -1, 2**62, None]),
        ("bool", "boolean", [True, False, None]),
        ("plain", "uuid", [uuid.uuid4(), None, uuid.uuid4()]),
        ("plain", "uuid", [uuid.uuid4(), uuid.uuid4()]),
        ("plain", "timestamptz", [now, now + timedelta(microseconds=7), None]),
        ("plain", "timestamptz", [now - timedelta(days=400, microseconds=1), now]),
    ]
    for kind, pg_type, values in cases:
        literal = array_literal(kind, values)
        (back,) = session.execute(text(f"SELECT CAST(:v AS {pg_type}[])"), {"v": literal}).one()
        expected = [float(v) if kind == "float" and v is not None else v for v in values]
        assert back == expected, (kind, literal)
    (nan,) = session.execute(
        text("SELECT CAST(:v AS double precision[])"), {"v": array_literal("float", [math.nan])}
    ).one()
    assert math.isnan(nan[0])
