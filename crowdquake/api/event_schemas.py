"""Bodies of ``GET /api/v1/events`` (pydantic 2); the OpenAPI document is built from them."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crowdquake.services.catalog import MAGNITUDE_TYPE, Origin, PublishedEvent

MAX_PAGE = 500
DEFAULT_PAGE = 100


class EventQuery(BaseModel):
    """Query string of ``GET /events`` (``since`` is parsed separately: it must carry a zone)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="Events per page")
    cursor: str | None = Field(
        default=None,
        max_length=200,
        description="`next_cursor` of the previous page (opaque); the same `since` must be sent",
    )
    include: Literal["revisions"] | None = Field(
        default=None, description="`revisions`: every revision of each event, oldest first"
    )


class RevisionOut(BaseModel):
    """One estimate of an event. Uncertainties are 1 sigma."""

    version: int
    created_at: datetime
    origin_time: datetime
    latitude: float = Field(description="Degrees")
    longitude: float = Field(description="Degrees")
    depth_km: float
    magnitude: float | None
    magnitude_uncertainty: float | None
    horizontal_uncertainty_km: float | None
    depth_uncertainty_km: float | None
    origin_time_uncertainty_s: float | None
    n_triggers: int = Field(description="Triggers associated with the event")
    n_active: int = Field(description="Active phones in the detection area")
    method: str

    @classmethod
    def of(cls, o: Origin) -> RevisionOut:
        return cls(
            version=o.version,
            created_at=o.created_at,
            origin_time=o.origin_time,
            latitude=o.lat_deg,
            longitude=o.lon_deg,
            depth_km=o.depth_km,
            magnitude=o.magnitude,
            magnitude_uncertainty=o.magnitude_uncertainty,
            horizontal_uncertainty_km=o.horizontal_uncertainty_km,
            depth_uncertainty_km=o.depth_uncertainty_km,
            origin_time_uncertainty_s=o.origin_time_uncertainty_s,
            n_triggers=o.n_triggers,
            n_active=o.n_active,
            method=o.method,
        )


class EventOut(BaseModel):
    """An earthquake with the numbers of its preferred (current) revision."""

    public_id: str
    status: Literal["candidate", "held", "confirmed"] = Field(
        description="held: waits for an operator (no automatic alert)"
    )
    evaluation_status: Literal["preliminary", "confirmed"]
    evaluation_mode: Literal["automatic", "manual"] = Field(
        description="manual once an operator acted on the event"
    )
    created_at: datetime = Field(description="When the network first declared it")
    updated_at: datetime
    detected_at: datetime = Field(description="Same as created_at (kept for replay clients)")
    revision: int = Field(description="Version of the preferred revision")
    origin_time: datetime
    latitude: float = Field(description="Degrees")
    longitude: float = Field(description="Degrees")
    depth_km: float
    magnitude: float | None
    magnitude_type: Literal["Mw"] | None
    magnitude_uncertainty: float | None
    horizontal_uncertainty_km: float | None
    depth_uncertainty_km: float | None
    n_triggers: int
    revisions: list[RevisionOut] | None = Field(
        default=None, description="Every revision, oldest first, with `include=revisions`"
    )

    @classmethod
    def of(cls, e: PublishedEvent, with_revisions: bool) -> EventOut:
        o = e.preferred
        return cls(
            public_id=e.public_id,
            status=e.status,
            evaluation_status=e.evaluation_status,
            evaluation_mode=e.evaluation_mode,
            created_at=e.created_at,
            updated_at=e.updated_at,
            detected_at=e.created_at,
            revision=o.version,
            origin_time=o.origin_time,
            latitude=o.lat_deg,
            longitude=o.lon_deg,
            depth_km=o.depth_km,
            magnitude=o.magnitude,
            magnitude_type=MAGNITUDE_TYPE if o.magnitude is not None else None,
            magnitude_uncertainty=o.magnitude_uncertainty,
            horizontal_uncertainty_km=o.horizontal_uncertainty_km,
            depth_uncertainty_km=o.depth_uncertainty_km,
            n_triggers=o.n_triggers,
            revisions=[RevisionOut.of(r) for r in e.origins] if with_revisions else None,
        )


class EventPage(BaseModel):
    events: list[EventOut] = Field(description="Oldest first (by creation time)")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )


def encode_cursor(created_at: datetime, public_id: str) -> str:
    raw = f"{created_at.astimezone(UTC).isoformat()}|{public_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The (created_at, public_id) key of a cursor, or None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, public_id = raw.split("|", 1)
        value = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if value.tzinfo is None or not public_id:
        return None
    return value.astimezone(UTC), public_id


MODELS: list[type[BaseModel]] = [EventOut, RevisionOut, EventPage]
