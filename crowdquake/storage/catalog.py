"""SQL of the published catalogue: events with their preferred revision, filtered as the FDSN
event service, the GeoJSON feeds and ``/api/v1/events`` ask.

Every filter is on the preferred revision (the event's current estimate), joined through
``events.preferred_revision_id``. Distances for the radius filter are great-circle angles in
degrees from the haversine formula, computed in SQL so that ``LIMIT``/``OFFSET`` apply to the
exact selection (PostgreSQL and SQLite >= 3.35 both have the trigonometric functions).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from crowdquake.storage.models import Alert, AuditLog, Event, EventRevision, EventTrigger, Trigger

OrderBy = Literal["time", "time-asc", "magnitude", "magnitude-asc", "updated", "created"]
# Statuses that are a catalogue entry (a merged event lives on in its survivor).
LISTED_STATUSES = ("candidate", "held", "confirmed", "rejected", "cancelled")
WITHDRAWN_STATUSES = ("rejected", "cancelled")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Selection of events by their preferred revision; ``None`` means no bound.

    Units: degrees for positions and radii, kilometres for depth, UTC datetimes for times.
    ``min_lon > max_lon`` selects a box that crosses the antimeridian.
    """

    start: datetime | None = None
    end: datetime | None = None
    min_lat: float | None = None
    max_lat: float | None = None
    min_lon: float | None = None
    max_lon: float | None = None
    centre: tuple[float, float] | None = None  # (lat_deg, lon_deg) of the radius filter
    min_radius_deg: float = 0.0
    max_radius_deg: float = 180.0
    min_depth_km: float | None = None
    max_depth_km: float | None = None
    min_magnitude: float | None = None
    max_magnitude: float | None = None
    public_id: str | None = None
    updated_after: datetime | None = None
    created_since: datetime | None = None
    # Keyset cursor of the "created" order: events after this (created_at, public_id).
    created_after: tuple[datetime, str] | None = None
    statuses: tuple[str, ...] = LISTED_STATUSES


# The columns of a revision the catalogue publishes (``detection_log10_p`` and ``data_until``
# are internal), read as Core rows: no ORM identity map or object construction per event.
REVISION_COLUMNS = (
    EventRevision.version,
    EventRevision.origin_time,
    EventRevision.lat_deg,
    EventRevision.lon_deg,
    EventRevision.depth_km,
    EventRevision.magnitude,
    EventRevision.magnitude_uncertainty,
    EventRevision.horizontal_uncertainty_km,
    EventRevision.depth_uncertainty_km,
    EventRevision.origin_time_uncertainty_s,
    EventRevision.n_triggers,
    EventRevision.n_active,
    EventRevision.method,
    EventRevision.created_at,
)
# An event row of :func:`find_events`: these plus the preferred revision's REVISION_COLUMNS.
EVENT_COLUMNS = (
    Event.id.label("event_id"),
    Event.public_id,
    Event.status,
    Event.created_at.label("event_created_at"),
    Event.updated_at.label("event_updated_at"),
    # Whether an operator acted on the event: an audit row targets it (index probe per row).
    select(AuditLog.id)
    .where(AuditLog.target_type == "event", AuditLog.target_id == Event.public_id)
    .exists()
    .label("reviewed"),
)


def great_circle_deg(
    lat_deg: Any, lon_deg: Any, lat0_deg: float, lon0_deg: float
) -> ColumnElement[float]:
    """Haversine central angle in degrees between columns and a point, as a SQL expression."""
    dlat = func.radians(lat_deg - lat0_deg)
    dlon = func.radians(lon_deg - lon0_deg)
    a = func.pow(func.sin(dlat / 2.0), 2) + func.cos(func.radians(lat_deg)) * func.cos(
        func.radians(literal(lat0_deg))
    ) * func.pow(func.sin(dlon / 2.0), 2)
    # Capped at 1: rounding can put ``a`` just above 1 for antipodal points, outside asin.
    capped = case((a > 1.0, 1.0), else_=a)
    return func.degrees(2.0 * func.asin(func.sqrt(capped)))


def longitude_band(lat0: float, lon0: float, radius_deg: float) -> tuple[float, float] | None:
    """Longitudes (west, east) that contain the spherical cap of ``radius_deg`` around a point,
    or None when it reaches a pole. The cap touches the meridians at sin(dlon) = sin(r)/cos(lat0)
    (spherical trigonometry of the tangent great circle). ``west > east`` crosses the
    antimeridian.

    >>> [round(v, 3) for v in longitude_band(60.0, 10.0, 1.0)]
    [8.0, 12.0]
    >>> longitude_band(0.0, 179.5, 1.0)
    (178.5, -179.5)
    >>> longitude_band(89.5, 0.0, 1.0) is None
    True
    """
    ratio = math.sin(math.radians(radius_deg)) / math.cos(math.radians(lat0))
    if abs(lat0) + radius_deg >= 90.0 or ratio >= 1.0:
        return None
    dlon = math.degrees(math.asin(ratio))
    west, east = lon0 - dlon, lon0 + dlon
    if west < -180.0:
        west += 360.0
    if east > 180.0:
        east -= 360.0
    return west, east


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    rev = EventRevision
    out: list[ColumnElement[bool]] = [Event.status.in_(f.statuses)]
    if f.public_id is not None:
        out.append(Event.public_id == f.public_id)
    if f.start is not None:
        out.append(rev.origin_time >= f.start)
    if f.end is not None:
        out.append(rev.origin_time <= f.end)
    if f.min_lat is not None:
        out.append(rev.lat_deg >= f.min_lat)
    if f.max_lat is not None:
        out.append(rev.lat_deg <= f.max_lat)
    if f.min_lon is not None and f.max_lon is not None and f.min_lon > f.max_lon:
        out.append(or_(rev.lon_deg >= f.min_lon, rev.lon_deg <= f.max_lon))
    else:
        if f.min_lon is not None:
            out.append(rev.lon_deg >= f.min_lon)
        if f.max_lon is not None:
            out.append(rev.lon_deg <= f.max_lon)
    if f.min_depth_km is not None:
        out.append(rev.depth_km >= f.min_depth_km)
    if f.max_depth_km is not None:
        out.append(rev.depth_km <= f.max_depth_km)
    if f.min_magnitude is not None:
        out.append(rev.magnitude >= f.min_magnitude)
    if f.max_magnitude is not None:
        out.append(rev.magnitude <= f.max_magnitude)
    if f.updated_after is not None:
        out.append(Event.updated_at > f.updated_after)
    if f.created_since is not None:
        out.append(Event.created_at >= f.created_since)
    if f.created_after is not None:
        at, public_id = f.created_after
        out.append(
            or_(
                Event.created_at > at,
                and_(Event.created_at == at, Event.public_id > public_id),
            )
        )
    if f.centre is not None:
        lat0, lon0 = f.centre
        # A latitude band first: plain comparisons an index or a cheap scan can use.
        out.append(rev.lat_deg.between(lat0 - f.max_radius_deg, lat0 + f.max_radius_deg))
        band = longitude_band(lat0, lon0, f.max_radius_deg)
        if band is not None:
            low, high = band
            out.append(
                rev.lon_deg.between(low, high)
                if low <= high
                else or_(rev.lon_deg >= low, rev.lon_deg <= high)
            )
        distance = great_circle_deg(rev.lat_deg, rev.lon_deg, lat0, lon0)
        if f.max_radius_deg < 180.0:
            out.append(distance <= f.max_radius_deg)
        if f.min_radius_deg > 0.0:
            out.append(distance >= f.min_radius_deg)
    return out


def _selection(f: EventFilter) -> Select[*tuple[Any, ...]]:
    return (
        select(*EVENT_COLUMNS, *REVISION_COLUMNS)
        .join(EventRevision, EventRevision.id == Event.preferred_revision_id)
        .where(and_(*_conditions(f)))
    )


def _ordered(stmt: Select[*tuple[Any, ...]], order: OrderBy) -> Select[*tuple[Any, ...]]:
    rev = EventRevision
    if order == "time-asc":
        return stmt.order_by(rev.origin_time.asc(), Event.public_id)
    if order == "magnitude":
        return stmt.order_by(rev.magnitude.desc().nulls_last(), rev.origin_time.desc())
    if order == "magnitude-asc":
        return stmt.order_by(rev.magnitude.asc().nulls_last(), rev.origin_time.asc())
    if order == "created":
        return stmt.order_by(Event.created_at.asc(), Event.public_id.asc())
    if order == "updated":
        return stmt.order_by(Event.updated_at.desc(), Event.public_id)
    return stmt.order_by(rev.origin_time.desc(), Event.public_id)


def find_events(
    session: Session,
    f: EventFilter,
    *,
    order: OrderBy = "time",
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Events matching ``f`` with their preferred revision, ordered, then ``offset``/``limit``
    (all three in SQL, so only the page is read): rows of ``EVENT_COLUMNS`` and the preferred
    revision's ``REVISION_COLUMNS``."""
    stmt = _ordered(_selection(f), order).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.execute(stmt).all()


def explain_plan(
    session: Session, f: EventFilter, *, order: OrderBy, limit: int, offset: int = 0
) -> str:
    """PostgreSQL's ``EXPLAIN ANALYZE`` of the statement :func:`find_events` runs."""
    stmt = _ordered(_selection(f), order).offset(offset).limit(limit)
    compiled = stmt.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    rows = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, COSTS OFF) " + str(compiled), dict(compiled.params)
    )
    return "\n".join(str(r[0]) for r in rows)


def last_modified(session: Session, f: EventFilter) -> datetime | None:
    """Newest ``updated_at`` among the events matching ``f``."""
    stmt = (
        select(func.max(Event.updated_at))
        .join(EventRevision, EventRevision.id == Event.preferred_revision_id)
        .where(and_(*_conditions(f)))
    )
    value: datetime | None = session.scalar(stmt)
    return value


def revisions_of(
    session: Session, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Row[*tuple[Any, ...]]]]:
    """Every revision of the given events (rows of ``REVISION_COLUMNS``), oldest first."""
    out: dict[uuid.UUID, list[Row[*tuple[Any, ...]]]] = {i: [] for i in event_ids}
    if not event_ids:
        return out
    rows = session.execute(
        select(EventRevision.event_id, *REVISION_COLUMNS)
        .where(EventRevision.event_id.in_(event_ids))
        .order_by(EventRevision.event_id, EventRevision.version)
    )
    for rev in rows:
        out[rev.event_id].append(rev)
    return out


@dataclass(frozen=True, slots=True)
class Association:
    """A trigger explained by an event: the pick of a phase at a (coarsened) place."""

    trigger_id: uuid.UUID
    phase: str
    residual_s: float
    trigger_time: datetime
    cell: str


def associations_of(
    session: Session, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Association]]:
    """The triggers associated with each event, by trigger time."""
    out: dict[uuid.UUID, list[Association]] = {i: [] for i in event_ids}
    if not event_ids:
        return out
    rows = session.execute(
        select(
            EventTrigger.event_id,
            EventTrigger.trigger_id,
            EventTrigger.phase,
            EventTrigger.residual_s,
            Trigger.trigger_time,
            Trigger.cell,
        )
        .join(Trigger, Trigger.id == EventTrigger.trigger_id)
        .where(EventTrigger.event_id.in_(event_ids))
        .order_by(EventTrigger.event_id, Trigger.trigger_time, Trigger.id)
    )
    for r in rows:
        out[r.event_id].append(
            Association(r.trigger_id, r.phase, r.residual_s, r.trigger_time, r.cell)
        )
    return out


__all__ = [
    "EVENT_COLUMNS",
    "LISTED_STATUSES",
    "REVISION_COLUMNS",
    "WITHDRAWN_STATUSES",
    "Association",
    "EventFilter",
    "OrderBy",
    "associations_of",
    "explain_plan",
    "find_events",
    "great_circle_deg",
    "last_modified",
    "revisions_of",
]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An ``alerts`` row without its cells: what the CAP message chains are built from."""

    alert_id: int
    event_id: uuid.UUID
    revision: int
    level: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class AlertedEvent:
    event_id: uuid.UUID
    public_id: str
    status: str
    updated_at: datetime
    alerts: list[AlertRow]


def alerted_events(
    session: Session,
    *,
    event_id: uuid.UUID | None = None,
    issued_since: datetime | None = None,
    withdrawn_since: datetime | None = None,
) -> list[AlertedEvent]:
    """Events with alerts and every alert row of each (by id): one event, or those with an
    alert issued since ``issued_since`` or withdrawn (rejected, cancelled) since
    ``withdrawn_since``."""
    if event_id is not None:
        ids = [event_id]
    else:
        ids = []
        if issued_since is not None:
            ids += session.scalars(
                select(Alert.event_id).where(Alert.issued_at >= issued_since).distinct()
            )
        if withdrawn_since is not None:
            ids += session.scalars(
                select(Event.id).where(
                    Event.status.in_(WITHDRAWN_STATUSES),
                    Event.updated_at >= withdrawn_since,
                    select(Alert.id).where(Alert.event_id == Event.id).exists(),
                )
            )
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    events = {
        e.id: AlertedEvent(e.id, e.public_id, e.status, e.updated_at, [])
        for e in session.scalars(select(Event).where(Event.id.in_(ids)))
    }
    rows = session.execute(
        select(Alert.id, Alert.event_id, Alert.revision, Alert.level, Alert.issued_at)
        .where(Alert.event_id.in_(ids))
        .order_by(Alert.id)
    )
    for r in rows:
        events[r.event_id].alerts.append(
            AlertRow(r.id, r.event_id, r.revision, r.level, r.issued_at)
        )
    return [e for e in events.values() if e.alerts]


def event_of_alert(session: Session, alert_id: int) -> uuid.UUID | None:
    found: uuid.UUID | None = session.scalar(select(Alert.event_id).where(Alert.id == alert_id))
    return found
