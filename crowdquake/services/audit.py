"""The audit trail: who did what to which target, and when (operators, CLI, the system)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.storage.models import AuditLog


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


def record(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        AuditLog(
            at=now,
            actor=actor[:64],
            action=action,
            target_type=target_type,
            target_id=target_id[:64],
            details=details,
        )
    )
    session.flush()


def recent(
    session: Session,
    *,
    limit: int = 100,
    target_type: str | None = None,
    target_id: str | None = None,
) -> list[AuditEntry]:
    """Newest first."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if target_type is not None:
        query = query.where(AuditLog.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditLog.target_id == target_id)
    return [
        AuditEntry(r.id, r.at, r.actor, r.action, r.target_type, r.target_id, dict(r.details))
        for r in session.scalars(query)
    ]
