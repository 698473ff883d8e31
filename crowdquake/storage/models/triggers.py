"""Phone triggers and their optional waveform snippets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Uuid
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

    __table_args__ = (
        Index("ix_triggers_trigger_time", "trigger_time"),
        Index("ix_triggers_cell_time", "cell", "trigger_time"),
        Index("ix_triggers_region_time", "region_key", "trigger_time"),
        # An association run's read: what its regions received since its last read.
        Index("ix_triggers_region_received", "region_key", "received_at"),
        Index("ix_triggers_device_time", "device_id", "trigger_time"),
        Index("ix_triggers_event", "event_id"),
        # The sweeper's query: regions with unprocessed ("new") triggers.
        Index("ix_triggers_status_received", "status", "received_at"),
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
