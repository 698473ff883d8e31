"""Phones and their latest heartbeat state."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crowdquake.storage.base import Base, UTCDateTime

DEVICE_STATUSES = ("active", "blocked")


class Device(Base):
    """A registered phone. The token secret is kept only as a SHA-256 digest."""

    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    app_version: Mapped[str] = mapped_column(String(32))
    model_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # the device trust score (domain.trust.device_trust), recomputed on each heartbeat day
    reputation: Mapped[float] = mapped_column(Float, default=1.0)
    # coarsened address the device registered from (/24 IPv4, /48 IPv6); cleared after
    # CROWDQUAKE_DEVICE_NETWORK_RETENTION_DAYS
    network_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # days with a heartbeat
    heartbeat_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_heartbeat_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    # triggers in settled events: confirmed (agree) or rejected (disagree) by an operator
    n_agree: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n_disagree: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        # blocked devices are few: the detector checks their count every run
        Index("ix_devices_status", "status"),
    )


class DeviceState(Base):
    """Latest heartbeat of a device; the position is coarsened to an H3 cell centre (privacy)."""

    __tablename__ = "device_state"

    device_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    cell: Mapped[str] = mapped_column(String(16))
    region_key: Mapped[str] = mapped_column(String(16))
    lat_deg: Mapped[float] = mapped_column(Float)
    lon_deg: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    steady: Mapped[bool] = mapped_column(Boolean)
    charging: Mapped[bool] = mapped_column(Boolean)
    app_version: Mapped[str] = mapped_column(String(32))
    model_version: Mapped[str] = mapped_column(String(32))
    clock_offset_s: Mapped[float] = mapped_column(Float)
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Hot queries: active devices of a cell / of a region by heartbeat age.
        Index("ix_device_state_cell_heartbeat", "cell", "last_heartbeat_at"),
        Index("ix_device_state_region_heartbeat", "region_key", "last_heartbeat_at"),
    )
