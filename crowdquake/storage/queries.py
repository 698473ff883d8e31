"""Portable query helpers that the ORM does not give directly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crowdquake.storage.models import Trigger


def insert_ignoring_duplicates(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str = "id"
) -> set[Any]:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING key``; returns the keys actually inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(dialect)
    stmt = stmt.on_conflict_do_nothing().returning(table.c[key])
    result = session.execute(stmt, list(rows)) if len(rows) > 1 else session.execute(stmt, rows[0])
    return {row[0] for row in result}


def trigger_digests(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """Existing triggers by id: ``{id: (device_id, body_digest)}``."""
    rows = session.execute(
        select(Trigger.id, Trigger.device_id, Trigger.body_digest).where(Trigger.id.in_(ids))
    )
    return {r.id: (r.device_id, r.body_digest) for r in rows}
