"""Request and response bodies of ``/api/v1`` (pydantic 2); the OpenAPI document is built from them.

Inputs are strict (no string-to-number coercion, no unknown fields, no NaN/Infinity) and every
physical quantity has its plausible range. Time checks that need "now" read it from the
validation context: ``{"now": datetime, "max_future_skew_s": float, "max_age_s": float,
"max_batch": int}``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

# Phone accelerometers saturate at 2-16 g; 16 g = 156.9 m/s² bounds any genuine reading.
MAX_PHONE_PGA_MS2 = 16 * 9.80665
MAX_CLOCK_OFFSET_S = 86_400.0

Latitude = Annotated[float, Field(ge=-90.0, le=90.0, description="WGS84 latitude, degrees")]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, description="WGS84 longitude, degrees")]
AccuracyM = Annotated[
    float, Field(ge=0.0, le=100_000.0, description="Horizontal position accuracy (1 sigma), m")
]
VersionStr = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[\w.+-]+$")]
ClockOffsetS = Annotated[
    float,
    Field(
        ge=-MAX_CLOCK_OFFSET_S,
        le=MAX_CLOCK_OFFSET_S,
        description="True time minus device time, measured by the phone (NTP/GNSS), s",
    ),
]


def check_acceptance_window(
    value: datetime,
    now: datetime,
    *,
    offset_s: float,
    max_future_skew_s: float,
    max_age_s: float,
    what: str,
) -> None:
    """``ValueError`` (a 422 field error) unless ``value + offset_s`` lies in
    ``[now - max_age_s, now + max_future_skew_s]``.

    Works on the difference ``value - now`` (a timedelta spans ±999,999,999 days), never on
    ``value + offset``, which overflows for times next to year 1 or 9999.
    """
    ahead_s = (value - now).total_seconds() + offset_s
    if ahead_s > max_future_skew_s:
        raise ValueError(f"{what} is more than {max_future_skew_s:g} s in the future")
    if ahead_s < -max_age_s:
        raise ValueError(f"{what} is older than {max_age_s:g} s")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DeviceRegistration(StrictModel):
    platform: Literal["android", "ios", "other"]
    app_version: VersionStr
    model_version: VersionStr


class DeviceRegistered(BaseModel):
    device_id: uuid.UUID
    token: str = Field(description="Bearer token; shown once, stored only as a hash")


class HeartbeatIn(StrictModel):
    latitude: Latitude
    longitude: Longitude
    accuracy_m: AccuracyM
    steady: bool = Field(description="Phone lying still (usable as a sensor)")
    charging: bool
    app_version: VersionStr
    model_version: VersionStr
    clock_offset_s: ClockOffsetS = 0.0


class HeartbeatOut(BaseModel):
    device_id: uuid.UUID
    cell: str = Field(description="H3 cell of the coarsened position")
    latitude: float = Field(description="Cell centre latitude (the stored position)")
    longitude: float = Field(description="Cell centre longitude (the stored position)")
    last_heartbeat_at: datetime


class TriggerIn(StrictModel):
    id: uuid.UUID = Field(description="Client-generated UUID; makes the request idempotent")
    clock_offset_s: ClockOffsetS = 0.0
    trigger_time: AwareDatetime = Field(description="Trigger time on the device clock, ISO 8601")
    latitude: Latitude
    longitude: Longitude
    accuracy_m: AccuracyM
    pga_ms2: Annotated[float, Field(ge=0.0, le=MAX_PHONE_PGA_MS2)] | None = Field(
        default=None, description="Peak ground acceleration seen by the phone, m/s²; null = unknown"
    )
    score: float = Field(ge=0.0, le=1.0, description="Edge classifier probability")
    model_version: VersionStr
    phase_hint: Literal["P", "S"] | None = None

    @field_validator("trigger_time")
    @classmethod
    def _within_acceptance_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        context: dict[str, Any] = info.context or {}
        now = context.get("now")
        if now is None:
            return value
        check_acceptance_window(
            value,
            now,
            offset_s=info.data.get("clock_offset_s", 0.0),
            max_future_skew_s=float(context["max_future_skew_s"]),
            max_age_s=float(context["max_age_s"]),
            what="corrected trigger time",
        )
        return value


class TriggerBatchIn(StrictModel):
    triggers: list[TriggerIn] = Field(min_length=1)

    @field_validator("triggers")
    @classmethod
    def _not_too_many(cls, value: list[TriggerIn], info: ValidationInfo) -> list[TriggerIn]:
        limit = (info.context or {}).get("max_batch")
        if limit is not None and len(value) > limit:
            raise ValueError(f"at most {limit} triggers per batch")
        return value


class TriggerOut(BaseModel):
    id: uuid.UUID
    trigger_time: datetime = Field(description="Corrected trigger time (device time + offset)")
    received_at: datetime
    latitude: float
    longitude: float
    accuracy_m: float
    pga_ms2: float | None
    score: float
    model_version: str
    phase_hint: Literal["P", "S"] | None
    status: str
    event_id: uuid.UUID | None


class TriggerAccepted(BaseModel):
    id: uuid.UUID
    created: bool = Field(description="false when this was an identical replay")
    trigger_time: datetime
    received_at: datetime


class TriggerBatchAccepted(BaseModel):
    triggers: list[TriggerAccepted]


class WaveformStored(BaseModel):
    trigger_id: uuid.UUID
    n_samples: int = Field(description="Samples per channel")


class FieldProblem(BaseModel):
    field: str = Field(description="Path of the offending field, e.g. triggers[2].latitude")
    message: str
    type: str


class Problem(BaseModel):
    """RFC 7807 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)
