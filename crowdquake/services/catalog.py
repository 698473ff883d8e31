"""The published catalogue: events as the outside world reads them (FDSN event service, GeoJSON
feeds, ``/api/v1/events``), independent of any output format.

Our lifecycle maps onto the QuakeML evaluation vocabulary (QuakeML 1.2 BED,
``EvaluationStatus`` / ``EvaluationMode``):

==================  ===================  ==========================================
``events.status``   evaluationStatus     note
==================  ===================  ==========================================
candidate, held     preliminary          held waits for an operator
confirmed           confirmed
rejected, cancelled rejected             listed only when asked by id or update time
==================  ===================  ==========================================

evaluationMode is ``manual`` once an operator acted on the event (an ``audit_log`` row of target
type ``event`` targets its public id), ``automatic`` otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import h3
from sqlalchemy.orm import Session

from crowdquake.domain.geodesy import haversine_scalar_km
from crowdquake.storage import catalog
from crowdquake.storage.catalog import EventFilter, OrderBy

EVALUATION_STATUS = {
    "candidate": "preliminary",
    "held": "preliminary",
    "confirmed": "confirmed",
    "rejected": "rejected",
    "cancelled": "rejected",
}
# The detector inverts peak ground acceleration through a GMPE written in moment magnitude
# (docs/science.md, section 6), so its magnitude estimates Mw.
MAGNITUDE_TYPE = "Mw"
EARTH_RADIUS_KM = 6371.0
KM_PER_DEG = EARTH_RADIUS_KM * 3.141592653589793 / 180.0


@dataclass(frozen=True, slots=True)
class Origin:
    """One revision of an event: where, when and how big, with 1-sigma uncertainties."""

    version: int
    origin_time: datetime
    lat_deg: float
    lon_deg: float
    depth_km: float
    magnitude: float | None
    magnitude_uncertainty: float | None
    horizontal_uncertainty_km: float | None
    depth_uncertainty_km: float | None
    origin_time_uncertainty_s: float | None
    n_triggers: int
    n_active: int
    method: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Arrival:
    """An associated trigger as a pick. Its place is the centre of the trigger's H3 cell (the
    same coarsening as heartbeats), so distance and azimuth do not reveal a phone's position."""

    trigger_id: uuid.UUID
    phase: str
    time: datetime
    residual_s: float
    station: str  # the H3 cell
    distance_deg: float
    azimuth_deg: float


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    public_id: str
    status: str
    reviewed: bool
    created_at: datetime
    updated_at: datetime
    preferred: Origin
    origins: tuple[Origin, ...] = ()  # every revision, oldest first, when asked
    arrivals: tuple[Arrival, ...] = ()  # picks of the preferred origin, when asked

    @property
    def evaluation_status(self) -> str:
        return EVALUATION_STATUS.get(self.status, "preliminary")

    @property
    def evaluation_mode(self) -> str:
        return "manual" if self.reviewed else "automatic"


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    filter: EventFilter = field(default_factory=EventFilter)
    order: OrderBy = "time"
    limit: int | None = None
    offset: int = 0
    revisions: bool = False  # load every revision (all origins or all magnitudes)
    arrivals: bool = False
    # More matching events than this (after offset, within limit) raise TooManyEvents before
    # anything else is read or built.
    max_events: int | None = None


class TooManyEvents(Exception):
    """The selection holds more than ``CatalogQuery.max_events`` events."""


def azimuth_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north.

    >>> round(azimuth_deg(0.0, 0.0, 1.0, 0.0), 6), round(azimuth_deg(0.0, 0.0, 0.0, 1.0), 6)
    (0.0, 90.0)
    """
    import math

    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def _arrivals(origin: Origin, rows: Sequence[catalog.Association]) -> tuple[Arrival, ...]:
    out = []
    for a in rows:
        lat, lon = h3.cell_to_latlng(a.cell)
        distance_km = haversine_scalar_km(origin.lat_deg, origin.lon_deg, lat, lon)
        out.append(
            Arrival(
                trigger_id=a.trigger_id,
                phase=a.phase,
                time=a.trigger_time,
                residual_s=a.residual_s,
                station=a.cell,
                distance_deg=distance_km / KM_PER_DEG,
                azimuth_deg=azimuth_deg(origin.lat_deg, origin.lon_deg, lat, lon),
            )
        )
    return tuple(out)


# A page row holds EVENT_COLUMNS, then REVISION_COLUMNS in Origin's field order (a test checks
# it); a revision row holds the event id, then REVISION_COLUMNS. Unpacking rows by position is
# an order of magnitude cheaper than reading fourteen attributes of a Row by name.
_N_EVENT = len(catalog.EVENT_COLUMNS)


def published_events(session: Session, query: CatalogQuery) -> list[PublishedEvent]:
    """The events of ``query`` with what the chosen detail level needs (a few queries in all,
    not one per event; filters, order, offset and limit are applied in SQL)."""
    rows = catalog.find_events(
        session, query.filter, order=query.order, limit=query.limit, offset=query.offset
    )
    if query.max_events is not None and len(rows) > query.max_events:
        raise TooManyEvents(query.max_events)
    ids = [r[0] for r in rows]
    revisions = catalog.revisions_of(session, ids) if query.revisions else {}
    associations = catalog.associations_of(session, ids) if query.arrivals else {}
    out = []
    for r in rows:
        event_id, public_id, status, created_at, updated_at, reviewed = r[:_N_EVENT]
        preferred = Origin(*r[_N_EVENT:])
        out.append(
            PublishedEvent(
                public_id=public_id,
                status=status,
                reviewed=reviewed,
                created_at=created_at,
                updated_at=updated_at,
                preferred=preferred,
                origins=tuple(Origin(*v[1:]) for v in revisions.get(event_id, ())),
                arrivals=_arrivals(preferred, associations.get(event_id, ())),
            )
        )
    return out
