"""Phone triggers and their optional waveform snippets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from crowdquake.storage.base import Base, UTCDateTime

TRIGGER_STATUSES = ("new", "associated", "unassociated")


class Trigger(Base):
    """One trigger. ``id`` is the client's UUID, which makes ingest idempotent.

    ``trigger_time`` is already corrected by the device's clock offset; ``received_at`` is the
    server clock at ingest; the difference is the end-to-end latency.
    """

    __tablename__ = "triggers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("devices.id", ondelete="CASCADE"))
    trigger_time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    clock_offset_s: Mapped[float] = mapped_column(Float)
    lat_deg: Mapped[float] = mapped_column(Float)
    lon_deg: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    cell: Mapped[str] = mapped_column(String(16))
    region_key: Mapped[str] = mapped_column(String(16))
    pga_ms2: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(32))
    phase_hint: Mapped[str | None] = mapped_column(String(1))
    body_digest: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("events.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="new")
    server_score: Mapped[float | None] = mapped_column(Float)

    # Every index costs each ingest INSERT (and its WAL) some work, so the triggers table keeps
    # only those a query needs (docs/operations.md, "Ingest: what a trigger write costs"):
    __table_args__ = (
        # Association runs (services/detection.py, storage/queries.py triggers_since): a
        # region's triggers received since a point; has_pending and _has_new_triggers too.
        Index("ix_triggers_region_received", "region_key", "received_at"),
        # Privacy export/erase by device, and the ON DELETE CASCADE from devices.
        Index("ix_triggers_device_time", "device_id", "trigger_time"),
        # Revision rewrites and the events FK (ON DELETE SET NULL): only associated rows carry
        # an event, so an ingest INSERT (event_id NULL) never touches this index.
        Index(
            "ix_triggers_event",
            "event_id",
            postgresql_where=text("event_id IS NOT NULL"),
            sqlite_where=text("event_id IS NOT NULL"),
        ),
        # The sweeper and the backlog counts: unprocessed triggers by arrival. Partial, so it
        # holds the backlog only (small and hot) instead of every trigger ever received.
        Index(
            "ix_triggers_new_received",
            "received_at",
            postgresql_where=text("status = 'new'"),
            sqlite_where=text("status = 'new'"),
        ),
        # Time windows of the console (last hour / day), the retention purge and the ingest
        # rate: both times grow with the insertion order, so a BRIN index (one summary per 128
        # heap pages; PostgreSQL docs, "BRIN Indexes") serves the ranges for a fraction of a
        # B-tree's insert cost. A plain B-tree on SQLite, which has no BRIN.
        Index(
            "ix_triggers_times_brin",
            "trigger_time",
            "received_at",
            postgresql_using="brin",
        ),
    )


class Waveform(Base):
    """Accelerometer snippet around a trigger: float32 little-endian, channel-major, m/s²."""

    __tablename__ = "waveforms"

    trigger_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("triggers.id", ondelete="CASCADE"), primary_key=True
    )
    sample_rate_hz: Mapped[float] = mapped_column(Float)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    n_channels: Mapped[int] = mapped_column(Integer)
    n_samples: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model_score: Mapped[float | None] = mapped_column(Float)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
