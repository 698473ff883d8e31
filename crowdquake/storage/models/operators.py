"""Console operators and the audit trail of what they (and the system) did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crowdquake.storage.base import Base, BigIntPK, JSONType, UTCDateTime

# viewer: reads everything; operator: also acts on events (confirm, reject, release, merge,
# annotate); admin: also region alert switches, device blocking and webhook re-sends.
OPERATOR_ROLES = ("viewer", "operator", "admin")


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Consecutive failed logins; at the lockout threshold ``locked_until`` is set.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)


class RegionAlertSwitch(Base):
    """Per-region alert kill switch set by an admin: with ``alerts_enabled`` false no alert row is
    written for an event of that region (detection goes on). Read at every alert write, so a change
    takes effect without a restart. No row means alerts are on."""

    __tablename__ = "region_alert_switches"

    region_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    alerts_enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
