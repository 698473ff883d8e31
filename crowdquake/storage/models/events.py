"""Earthquakes, their revisions, their triggers and the alerts issued for them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from crowdquake.storage.base import Base, BigIntPK, JSONType, UTCDateTime

# "held": the detector found a candidate whose evidence is not trustworthy enough for an
# automatic alert (dominated by low-trust devices, or lacking independent corroboration); it stays
# visible in the events API and waits for an operator to release or reject it.
EVENT_STATUSES = ("candidate", "confirmed", "held", "rejected", "cancelled", "merged")
ALERT_LEVELS = ("be_aware", "take_action")


class Event(Base):
    """An earthquake as the network knows it; its numbers live in the preferred revision."""

    __tablename__ = "events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    region_key: Mapped[str] = mapped_column(String(16))
    detector_key: Mapped[str | None] = mapped_column(String(64))
    preferred_revision_id: Mapped[int | None] = mapped_column(
        BigIntPK,
        ForeignKey("event_revisions.id", use_alter=True, ondelete="SET NULL"),
    )
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_events_region_updated", "region_key", "updated_at"),
        # The published catalogue (FDSN event service, feeds): join to the preferred revision,
        # and "updated after" for consumers that sync.
        Index("ix_events_preferred_revision", "preferred_revision_id"),
        Index("ix_events_updated_at", "updated_at"),
        # /api/v1/events pages by creation time.
        Index("ix_events_created_at", "created_at", "public_id"),
    )


class EventRevision(Base):
    """One immutable estimate of an event (origin, location, size, evidence)."""

    __tablename__ = "event_revisions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("events.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    origin_time: Mapped[datetime] = mapped_column(UTCDateTime)
    lat_deg: Mapped[float] = mapped_column(Float)
    lon_deg: Mapped[float] = mapped_column(Float)
    depth_km: Mapped[float] = mapped_column(Float)
    magnitude: Mapped[float | None] = mapped_column(Float)
    magnitude_uncertainty: Mapped[float | None] = mapped_column(Float)
    horizontal_uncertainty_km: Mapped[float | None] = mapped_column(Float)
    depth_uncertainty_km: Mapped[float | None] = mapped_column(Float)
    origin_time_uncertainty_s: Mapped[float | None] = mapped_column(Float)
    n_triggers: Mapped[int] = mapped_column(Integer)
    n_active: Mapped[int] = mapped_column(Integer)
    detection_log10_p: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Server arrival time of the newest trigger the run had seen: the revision's data cut-off,
    # and the start of its end-to-end latency.
    data_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("event_id", "version", name="uq_event_revisions_version"),
        # Time windows of the published catalogue, newest first.
        Index("ix_event_revisions_origin_time", "origin_time"),
        # Boxes and the bounding box of a radius search (latitude range, longitude checked
        # in the index), combined with the time index by a bitmap AND.
        Index("ix_event_revisions_lat_lon", "lat_deg", "lon_deg"),
        # Magnitude thresholds (rare large events over long windows) and magnitude order.
        Index("ix_event_revisions_magnitude", "magnitude"),
    )


class EventTrigger(Base):
    """A trigger explained by an event, with the phase and travel-time residual."""

    __tablename__ = "event_triggers"

    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    trigger_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("triggers.id", ondelete="CASCADE"), primary_key=True
    )
    phase: Mapped[str] = mapped_column(String(1))
    residual_s: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_event_triggers_trigger", "trigger_id"),)


class Alert(Base):
    """Alert issued for one event revision at one level; unique so a redelivery cannot re-alert."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("events.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    cells: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("event_id", "revision", "level", name="uq_alerts_event_revision_level"),
        Index("ix_alerts_issued_at", "issued_at"),
    )
