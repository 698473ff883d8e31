"""Bookkeeping of the real-time pipeline: per-region scheduling, background rates, deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crowdquake.storage.base import Base, BigIntPK, UTCDateTime

DELIVERY_STATUSES = ("pending", "delivered", "dead")


class RegionState(Base):
    """One row per region key (coarse cell): when its association run was queued and how far it
    got. ``queued_at`` is the claim that keeps at most one run per region in the queue; a claim
    older than the re-drive delay is considered lost and taken again (the sweeper)."""

    __tablename__ = "region_state"

    region_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)


class BackgroundRate(Base):
    """Unassociated triggers and steady device-hours per region and local mean solar hour of day
    (UTC hour + longitude of the region's centre / 15): the data behind the background
    false-trigger rate of the detection statistic."""

    __tablename__ = "background_rates"

    region_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    hour_of_day: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n_triggers: Mapped[int] = mapped_column(Integer, default=0)
    device_hours: Mapped[float] = mapped_column(Float, default=0.0)


class AlertDelivery(Base):
    """Outbound delivery of one alert to one publisher target; ``dead`` after the last retry."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("alerts.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("alert_id", "target", name="uq_alert_deliveries_alert_target"),
        Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),
    )


class WorkerHeartbeat(Base):
    """Proof that the pipeline runs: the beat scheduler queues a heartbeat task every few
    seconds and a worker that executes it stamps ``beat_at``. A stale row means the scheduler
    or every consumer is dead or hung (``/readyz`` reports it)."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    worker: Mapped[str] = mapped_column(String(255), default="")
