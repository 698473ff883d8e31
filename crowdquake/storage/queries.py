"""Portable query helpers that the ORM does not give directly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Engine,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    TypeDecorator,
    Uuid,
    event,
    select,
)
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
            if len(rows) >= COPY_MIN_ROWS and _has_copy_stage(session, table):
                return _insert_copy(session, table, rows, key)
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
        f"CAST(%({n}){'s' if _text_kind(table.c[n].type) else 'b'} "
        f"AS {table.c[n].type.compile(dialect=_PG_DIALECT)}[])"
        for n in names
    )
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING RETURNING {quote(key)}"
    )


def _text_kind(column_type: Any) -> str | None:
    """How a column's values are written in an array literal (None: not at all, they go as a
    binary array)."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, Float):
        return "float"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, Integer):
        return "int"
    if isinstance(column_type, Uuid | DateTime):
        return "plain"  # their text forms hold no character an array literal must quote
    if isinstance(column_type, String):
        return "quoted"
    return None


_NEEDS_ESCAPE = frozenset('"\\')
_FLOAT_WORDS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(kind: str, values: Sequence[Any]) -> str:
    """``values`` as the text input form of a PostgreSQL array (``{1.5,NULL,"a b"}``).

    Building the literal with ``str.join`` costs a fraction of psycopg's binary array dumping,
    which runs element by element in Python (measured: about 5x for a 50-row batch of
    triggers), and PostgreSQL parses it exactly: floats are written with ``repr``, the shortest
    text that reads back as the same double. Strings are quoted, with backslash and double quote
    escaped (PostgreSQL docs, "Array Value Input"), so "NULL", commas, braces and blanks in a
    value stay data.
    """
    types = set(map(type, values))
    # The common cases first, without a Python call per value.
    if kind == "float" and types == {float}:
        joined = ",".join(map(repr, values))
        if "n" not in joined:  # no nan or inf
            return "{" + joined + "}"
    if kind == "plain" and types == {uuid.UUID}:
        return "{" + ",".join(map(str, values)) + "}"
    if kind == "plain" and types == {datetime}:
        return "{" + ",".join(map(datetime.isoformat, values)) + "}"
    if kind == "quoted" and types == {str} and not _NEEDS_ESCAPE.intersection("".join(values)):
        return '{"' + '","'.join(values) + '"}'
    if kind == "float":
        items = ["NULL" if v is None else repr(float(v)) for v in values]
        items = [_FLOAT_WORDS.get(i, i) for i in items]
    elif kind == "int":
        items = ["NULL" if v is None else str(int(v)) for v in values]
    elif kind == "bool":
        items = ["NULL" if v is None else ("t" if v else "f") for v in values]
    elif kind == "plain":
        items = ["NULL" if v is None else _plain(v) for v in values]
    else:
        items = ["NULL" if v is None else _quoted(str(v)) for v in values]
    return "{" + ",".join(items) + "}"


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@lru_cache(maxsize=64)
def _values_sql(table: Table, names: tuple[str, ...], key: str) -> str:
    quote = _PG_DIALECT.identifier_preparer.quote
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT DO NOTHING RETURNING {quote(key)}"
    )


def _row_statement(
    table: Table, row: dict[str, Any], key: str, dialect: Dialect
) -> tuple[str, list[Any]]:
    """One row as a VALUES INSERT with one scalar parameter per column: for a single row this
    is several times cheaper to send than the arrays of the unnest form (psycopg dumps scalars
    in C, arrays element by element in Python; measured)."""
    names = tuple(row.keys())
    return _values_sql(table, names, key), [
        _column_values(table, n, (row,), dialect)[0] for n in names
    ]


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


def _array_param(table: Table, name: str, rows: Sequence[dict[str, Any]], dialect: Dialect) -> Any:
    values = _column_values(table, name, rows, dialect)
    kind = _text_kind(table.c[name].type)
    return values if kind is None else array_literal(kind, values)


def _insert_unnest(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str
) -> set[Any]:
    """Many rows as one array per column: one short statement whatever the row count, so the
    driver parses it once (SQLAlchemy's multi-row VALUES is a new, long statement per batch
    size, and parsing it cost more than the insert; measured)."""
    sql, params = _unnest_statement(table, rows, key, session.get_bind().dialect)
    # On the session's own DBAPI connection, so inside its transaction, but without
    # SQLAlchemy's result processing, which cost a call per returned row.
    driver: Any = session.connection().connection.driver_connection
    return {row[0] for row in driver.execute(sql, params).fetchall()}


def _unnest_statement(
    table: Table, rows: Sequence[dict[str, Any]], key: str, dialect: Dialect
) -> tuple[str, dict[str, list[Any]]]:
    """The unnest INSERT text and its one-array-per-column parameters."""
    names = tuple(rows[0].keys())
    return _unnest_sql(table, names, key), {n: _array_param(table, n, rows, dialect) for n in names}


# From this many rows on, a PostgreSQL insert through a staging table with COPY beats the unnest
# statement: COPY's rows are encoded by psycopg's C code in binary, the arrays of the unnest form
# as text in Python (about 20 us a row on the 2-core machine), at the price of one more round
# trip (docs/operations.md, "Ingest: what a trigger write costs").
COPY_MIN_ROWS = 16
_COPY_STAGES = "crowdquake_copy_stages"  # connection info key: tables with a staging table


def _stage_name(table: Table) -> str:
    return f"copy_stage_{table.name}"


def install_copy_stage(engine: Engine, table: Table) -> None:
    """PostgreSQL: give every new connection of ``engine`` a temporary staging table for
    ``table`` (same columns, emptied at each commit), which lets
    :func:`insert_ignoring_duplicates` load many rows with COPY. Created once per connection,
    outside any request's transaction (a rolled-back request cannot take it away). A connection
    on which it cannot be created (schema not migrated yet) keeps the unnest statement."""
    if engine.dialect.name != "postgresql":
        return
    quote = _PG_DIALECT.identifier_preparer.quote
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(_stage_name(table))} "
        f"(LIKE {quote(table.name)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )

    def create_stage(dbapi_connection: Any, record: Any) -> None:
        import psycopg

        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(create)
            dbapi_connection.commit()
        except psycopg.errors.UndefinedTable:
            dbapi_connection.rollback()
            return
        record.info.setdefault(_COPY_STAGES, set()).add(table.name)

    event.listen(engine, "connect", create_stage)


def _has_copy_stage(session: Session, table: Table) -> bool:
    return table.name in session.connection().connection.info.get(_COPY_STAGES, ())


# psycopg's binary COPY needs each column's PostgreSQL type; other column types take the unnest
# statement.
def _copy_type(column_type: Any) -> str | None:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, Uuid):
        return "uuid"
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, Float):
        # FLOAT without a precision is double precision; FLOAT(p <= 24) would be real.
        return "float8" if (column_type.precision or 53) > 24 else None
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, SmallInteger):
        return "int2"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, String):
        return "text"
    return None


@lru_cache(maxsize=64)
def _copy_sql(table: Table, names: tuple[str, ...], key: str) -> tuple[str, str, list[str] | None]:
    quote = _PG_DIALECT.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    stage = quote(_stage_name(table))
    types = [_copy_type(table.c[n].type) for n in names]
    copy = f"COPY {stage} ({columns}) FROM STDIN (FORMAT BINARY)"
    # The staged rows leave the stage in the same statement, so a second insert in the same
    # transaction does not see them again; the commit truncates the stage's dead rows.
    move = (
        f"WITH staged AS (DELETE FROM {stage} RETURNING {columns}) "
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} FROM staged "
        f"ON CONFLICT DO NOTHING RETURNING {quote(key)}"
    )
    return copy, move, None if None in types else [str(t) for t in types]


def _insert_copy(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str
) -> set[Any]:
    """Many rows by binary COPY into the connection's staging table, then one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` into ``table``, both in the
    session's transaction."""
    names = tuple(rows[0].keys())
    copy_sql, move_sql, types = _copy_sql(table, names, key)
    if types is None:
        return _insert_unnest(session, table, rows, key)
    dialect = session.get_bind().dialect
    columns = [_column_values(table, n, rows, dialect) for n in names]
    driver: Any = session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        with cursor.copy(copy_sql) as copy:
            copy.set_types(types)
            for values in zip(*columns, strict=True):
                copy.write_row(values)
        return {row[0] for row in cursor.execute(move_sql).fetchall()}


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
    sql, params = (
        _row_statement(table, rows[0], key, engine.dialect)
        if len(rows) == 1
        else _unnest_statement(table, rows, key, engine.dialect)
    )
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


# Triggers committed after a snapshot, on PostgreSQL: a row is new to a reader iff the
# transaction that inserted it (xmin) was not visible in the reader's previous snapshot. xmin is a
# 32-bit xid; it is widened to the 64-bit xid8 of pg_visible_in_snapshot against the current
# snapshot's xmax (the row's transaction is older than that by far less than 2^31 xids; frozen
# rows come out as ancient and so count as seen). pg_current_snapshot() is the statement's own
# snapshot; the LEFT JOIN returns it even when no trigger matches.
_FULL_XMIN = """(pg_snapshot_xmax(snap.s)::text::bigint
      - ((pg_snapshot_xmax(snap.s)::text::bigint %% 4294967296)
         - tr.xmin::text::bigint + 4294967296) %% 4294967296)::text::xid8"""
_TRIGGERS_SINCE_SNAPSHOT = f"""
WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s)
SELECT snap.s::text AS snapshot, t.*
FROM snap LEFT JOIN LATERAL (
  SELECT tr.id, tr.device_id, tr.trigger_time, tr.received_at, tr.lat_deg, tr.lon_deg,
         tr.pga_ms2, tr.score, tr.server_score, tr.phase_hint, tr.accuracy_m, tr.region_key
  FROM triggers AS tr
  JOIN devices AS d ON d.id = tr.device_id AND d.status = 'active'  -- blocked: count nowhere
  WHERE tr.region_key = ANY(%(regions)s)
    AND tr.received_at >= %(since_received)s
    AND tr.trigger_time >= %(since_time)s
    AND (%(previous)s::pg_snapshot IS NULL
         OR NOT pg_visible_in_snapshot({_FULL_XMIN}, %(previous)s::pg_snapshot))
    AND (%(cursor_received)s::timestamptz IS NULL
         OR (tr.received_at, tr.trigger_time, tr.id)
            > (%(cursor_received)s::timestamptz, %(cursor_time)s::timestamptz, %(cursor_id)s::uuid)
         OR NOT pg_visible_in_snapshot({_FULL_XMIN}, %(cursor_snapshot)s::pg_snapshot))
  ORDER BY tr.received_at, tr.trigger_time, tr.id
  LIMIT %(limit)s
) AS t ON true
ORDER BY t.received_at, t.trigger_time, t.id
"""


@dataclass
class ReadPosition:
    """Where an incremental reader of triggers stands (PostgreSQL snapshots as text).

    Everything committed in ``snapshot`` was read (None: nothing yet). After a read cut off at
    ``limit`` rows, also everything committed in ``cut_snapshot`` up to the sort key ``cursor``
    (received_at, trigger_time, id) was read; the next read resumes after it.
    """

    snapshot: str | None = None
    cut_snapshot: str | None = None
    cursor: tuple[Any, Any, Any] | None = None


def triggers_since(
    session: Session,
    regions: Sequence[str],
    since_received: Any,
    since_time: Any,
    position: ReadPosition,
    limit: int,
) -> list[Any]:
    """PostgreSQL: the triggers of ``regions`` in the time window that ``position`` has not read
    yet, at most ``limit`` in (received_at, trigger_time, id) order; advances ``position``."""
    cursor = position.cursor or (None, None, None)
    result = session.connection().exec_driver_sql(
        _TRIGGERS_SINCE_SNAPSHOT,
        {
            "regions": list(regions),
            "since_received": since_received,
            "since_time": since_time,
            "previous": position.snapshot,
            "cursor_received": cursor[0],
            "cursor_time": cursor[1],
            "cursor_id": cursor[2],
            "cursor_snapshot": position.cut_snapshot,
            "limit": limit,
        },
    )
    all_rows = list(result)
    rows = [r for r in all_rows if r.id is not None]
    snapshot = all_rows[0].snapshot
    if len(rows) >= limit:
        last = rows[-1]
        position.cut_snapshot = snapshot
        position.cursor = (last.received_at, last.trigger_time, last.id)
    else:
        position.snapshot, position.cut_snapshot, position.cursor = snapshot, None, None
    return rows


def mark_triggers_unassociated(session: Session, ids: Sequence[uuid.UUID]) -> int:
    """PostgreSQL: ``status = 'unassociated'`` for those of ``ids`` still ``'new'``, as one
    statement with one array parameter (whatever the count); returns how many changed."""
    result = session.connection().exec_driver_sql(
        "UPDATE triggers SET status = 'unassociated' WHERE id = ANY(%(ids)s) AND status = 'new'",
        {"ids": list(ids)},
    )
    return int(result.rowcount)
