"""Bodies of the alert delivery endpoints (pydantic 2); the OpenAPI document is built from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crowdquake.services.alerts import DeviceAlert

# Alert ids are 64-bit on PostgreSQL; anything larger than that is garbage, not a cursor.
MAX_ALERT_ID = 2**63 - 1
MAX_STREAM_S = 3600.0


class AlertQuery(BaseModel):
    """Query string of ``GET /alerts`` and ``/alerts/stream`` (strings, as URLs carry them)."""

    # Unknown parameters are ignored, not refused: clients and proxies add cache busters.
    model_config = ConfigDict(extra="ignore")

    since: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ALERT_ID,
        description="Cursor: return alerts with a larger id (default: the last 10 minutes)",
    )


class StreamQuery(AlertQuery):
    max_s: float = Field(
        default=300.0,
        gt=0.0,
        le=MAX_STREAM_S,
        allow_inf_nan=False,
        description="Close the stream after this many seconds (clients reconnect with "
        "Last-Event-ID)",
    )


class DeviceAlertOut(BaseModel):
    """One alert as one device sees it."""

    id: int = Field(description="Alert id; also the cursor and the SSE event id")
    event_id: str = Field(description="Public id of the earthquake")
    revision: int = Field(description="Event revision the alert was issued for")
    level: Literal["be_aware", "take_action"] = Field(
        description="be_aware: predicted MMI 3-4; take_action: MMI >= 5"
    )
    magnitude: float | None = Field(description="Moment magnitude estimate; null if unknown")
    origin_time: datetime
    latitude: float = Field(description="Epicentre latitude, degrees")
    longitude: float = Field(description="Epicentre longitude, degrees")
    depth_km: float
    predicted_mmi: float = Field(description="Predicted intensity (MMI) at this device's cell")
    s_arrival_time: datetime = Field(description="Predicted S-wave arrival at this device's cell")
    warning_time_s: float = Field(
        description="s_arrival_time minus the server's now; negative once the S wave has passed"
    )
    issued_at: datetime

    @classmethod
    def of(cls, found: DeviceAlert) -> DeviceAlertOut:
        alert = found.alert
        return cls(
            id=alert.alert_id,
            event_id=alert.event_public_id,
            revision=alert.revision,
            level=alert.level,
            magnitude=alert.magnitude,
            origin_time=alert.origin_time,
            latitude=alert.lat_deg,
            longitude=alert.lon_deg,
            depth_km=alert.depth_km,
            predicted_mmi=found.forecast.predicted_mmi,
            s_arrival_time=found.forecast.s_arrival_time,
            warning_time_s=round(found.warning_time_s, 3),
            issued_at=alert.issued_at,
        )


class DeviceAlertList(BaseModel):
    alerts: list[DeviceAlertOut]
    cursor: int = Field(
        description="Largest alert id examined for this device; pass it back as `since`"
    )


MODELS: list[type[BaseModel]] = [DeviceAlertOut, DeviceAlertList]
