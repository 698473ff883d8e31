"""Portable query helpers that the ORM does not give directly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Dialect, Engine, Float, Integer, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crowdquake.storage.models import Trigger

_PG_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_ignoring_duplicates(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str = "id"
) -> set[Any]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING key``; returns the keys actually inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        if len(rows) > 1 and _unnest_insertable(table, rows):
            return _insert_unnest(session, table, rows, key)
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(dialect)
    stmt = stmt.on_conflict_do_nothing().returning(table.c[key])
    result = session.execute(stmt, list(rows)) if len(rows) > 1 else session.execute(stmt, rows[0])
    return {row[0] for row in result}


def _unnest_insertable(table: Table, rows: Sequence[dict[str, Any]]) -> bool:
    names = rows[0].keys()
    return all(not isinstance(table.c[n].type, JSON) for n in names) and all(
        r.keys() == names for r in rows
    )


@lru_cache(maxsize=64)
def _unnest_sql(table: Table, names: tuple[str, ...], key: str) -> str:
    quote = _PG_DIALECT.identifier_preparer.quote
    arrays = ", ".join(
        f"CAST(%({n})b AS {table.c[n].type.compile(dialect=_PG_DIALECT)}[])" for n in names
    )
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING RETURNING {quote(key)}"
    )


def _column_values(
    table: Table, name: str, rows: Sequence[dict[str, Any]], dialect: Dialect
) -> list[Any]:
    column_type = table.c[name].type
    process = column_type.bind_processor(dialect)  # e.g. UTCDateTime's checks and conversion
    values = [r[name] for r in rows] if process is None else [process(r[name]) for r in rows]
    # psycopg adapts a list to one array type: ints and floats must not be mixed.
    if isinstance(column_type, Float):
        return [None if v is None else float(v) for v in values]
    if isinstance(column_type, Integer):
        return [None if v is None else int(v) for v in values]
    return values


def _insert_unnest(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str
) -> set[Any]:
    """Many rows as one array per column: one short statement whatever the row count, so the
    driver parses it once (SQLAlchemy's multi-row VALUES is a new, long statement per batch
    size, and parsing it cost more than the insert; measured)."""
    sql, params = _unnest_statement(table, rows, key, session.get_bind().dialect)
    result = session.connection().exec_driver_sql(sql, params)
    return {row[0] for row in result}


def _unnest_statement(
    table: Table, rows: Sequence[dict[str, Any]], key: str, dialect: Dialect
) -> tuple[str, dict[str, list[Any]]]:
    """The unnest INSERT text and its one-array-per-column parameters."""
    names = tuple(rows[0].keys())
    return _unnest_sql(table, names, key), {
        n: _column_values(table, n, rows, dialect) for n in names
    }


def insert_committed_postgres(
    engine: Engine, table: Table, rows: Sequence[dict[str, Any]], key: str = "id"
) -> set[Any]:
    """The unnest insert of :func:`insert_ignoring_duplicates` as its own autocommitted
    statement on a pooled DBAPI connection: durable on return, and the cheapest write path
    (no Session, no statement compilation; psycopg prepares the one statement text per
    connection, whatever the row count). PostgreSQL only; rows must be unnest-insertable."""
    if not rows:
        return set()
    if not _unnest_insertable(table, rows):
        raise ValueError("rows need the same keys and no JSON column")
    sql, params = _unnest_statement(table, rows, key, engine.dialect)
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        driver.autocommit = True
        result = driver.execute(sql, params).fetchall()
        driver.autocommit = False
    except BaseException:
        connection.invalidate()  # state unknown: never hand it to the next user
        raise
    finally:
        connection.close()
    return {row[0] for row in result}


def trigger_digests(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """Existing triggers by id: ``{id: (device_id, body_digest)}``."""
    rows = session.execute(
        select(Trigger.id, Trigger.device_id, Trigger.body_digest).where(Trigger.id.in_(ids))
    )
    return {r.id: (r.device_id, r.body_digest) for r in rows}
