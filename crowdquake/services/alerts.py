"""Alert delivery queries: which issued alerts concern a device, and what each one says.

An ``alerts`` row lists H3 cells (any resolution) with a predicted MMI and S-wave arrival time.
A device is concerned when its heartbeat cell lies in one of them: its ancestor at the alert
cell's resolution is that cell, or, for alert cells finer than the device cell, the alert cell's
ancestor at the device resolution is the device cell. Numbers (magnitude, origin, location) come
from the event revision the alert was issued for. Events rejected or cancelled by the pipeline or
an operator are never delivered.

The id cursor: a response reports the largest alert id the server examined for the device
(matching or not), so a client that passes it back never re-examines, nor re-receives, an alert.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import h3
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from crowdquake.services.errors import NotFound
from crowdquake.storage.models import Alert, DeviceState, Event, EventRevision

WITHDRAWN_STATUSES = ("rejected", "cancelled")
DEFAULT_WINDOW_S = 600.0
# An alert is an early warning: one issued more than an hour ago is history (served by the
# event feeds), not something a phone should sound an alarm for after reconnecting.
DEFAULT_MAX_AGE_S = 3600.0
DEFAULT_LIMIT = 100
# Bounds the rows read per request even when a client passes a very old cursor.
SCAN_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class IssuedAlert:
    """An alert row with the numbers of the event revision it was issued for."""

    alert_id: int
    event_id: uuid.UUID
    event_public_id: str
    event_status: str
    revision: int
    level: str
    issued_at: datetime
    origin_time: datetime
    lat_deg: float
    lon_deg: float
    depth_km: float
    magnitude: float | None
    cells: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class CellForecast:
    """What an alert predicts for one place: intensity (MMI) and S-wave arrival time."""

    predicted_mmi: float
    s_arrival_time: datetime


@dataclass(frozen=True, slots=True)
class DeviceAlert:
    alert: IssuedAlert
    forecast: CellForecast
    warning_time_s: float


@dataclass(frozen=True, slots=True)
class DeviceAlertPage:
    alerts: list[DeviceAlert]
    cursor: int


def parse_utc(text: str) -> datetime:
    """ISO 8601 to an aware UTC datetime; a naive value is taken as UTC (the data contract)."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def forecast_for_cell(device_cell: str, cells: Sequence[Mapping[str, Any]]) -> CellForecast | None:
    """The alert's forecast for a device cell, or None when the device is outside the alert.

    Several alert cells can cover one device cell (alert cells finer than the device's): the
    device gets the strongest predicted MMI and the earliest S arrival among them, the
    conservative reading for a warning.
    """
    device_res = h3.get_resolution(device_cell)
    ancestors = {res: h3.cell_to_parent(device_cell, res) for res in range(device_res + 1)}
    mmi: float | None = None
    arrival: datetime | None = None
    for entry in cells:
        cell = entry.get("cell")
        if not isinstance(cell, str) or not h3.is_valid_cell(cell):
            continue
        res = h3.get_resolution(cell)
        covered = (
            ancestors[res] == cell
            if res <= device_res
            else h3.cell_to_parent(cell, device_res) == device_cell
        )
        if not covered:
            continue
        cell_mmi = float(entry["predicted_mmi"])
        cell_arrival = parse_utc(str(entry["s_arrival_time"]))
        mmi = cell_mmi if mmi is None else max(mmi, cell_mmi)
        arrival = cell_arrival if arrival is None else min(arrival, cell_arrival)
    if mmi is None or arrival is None:
        return None
    return CellForecast(predicted_mmi=mmi, s_arrival_time=arrival)


class AlertCoverage:
    """An alert's cells indexed for many lookups: ``forecast(cell)`` equals
    ``forecast_for_cell(cell, cells)`` but costs a few dictionary probes instead of a pass over
    every alert cell (the stream server matches one alert against thousands of device cells)."""

    def __init__(self, cells: Sequence[Mapping[str, Any]]) -> None:
        # resolution -> alert cell -> (strongest MMI, earliest arrival) among duplicates
        self.by_res: dict[int, dict[str, tuple[float, datetime]]] = {}
        for entry in cells:
            cell = entry.get("cell")
            if not isinstance(cell, str) or not h3.is_valid_cell(cell):
                continue
            value = (float(entry["predicted_mmi"]), parse_utc(str(entry["s_arrival_time"])))
            level = self.by_res.setdefault(h3.get_resolution(cell), {})
            level[cell] = _merge(level.get(cell), value)
        self._finer: dict[int, dict[str, tuple[float, datetime]]] = {}

    def _finer_than(self, res: int) -> dict[str, tuple[float, datetime]]:
        """Alert cells finer than ``res``, merged under their ancestor at ``res``."""
        if res not in self._finer:
            merged: dict[str, tuple[float, datetime]] = {}
            for cell_res, level in self.by_res.items():
                if cell_res <= res:
                    continue
                for cell, value in level.items():
                    parent = h3.cell_to_parent(cell, res)
                    merged[parent] = _merge(merged.get(parent), value)
            self._finer[res] = merged
        return self._finer[res]

    def forecast(self, device_cell: str) -> CellForecast | None:
        device_res = h3.get_resolution(device_cell)
        found: tuple[float, datetime] | None = None
        for res, level in self.by_res.items():
            if res <= device_res:
                value = level.get(
                    device_cell if res == device_res else h3.cell_to_parent(device_cell, res)
                )
                if value is not None:
                    found = _merge(found, value)
        value = self._finer_than(device_res).get(device_cell)
        if value is not None:
            found = _merge(found, value)
        if found is None:
            return None
        return CellForecast(predicted_mmi=found[0], s_arrival_time=found[1])


def _merge(a: tuple[float, datetime] | None, b: tuple[float, datetime]) -> tuple[float, datetime]:
    return b if a is None else (max(a[0], b[0]), min(a[1], b[1]))


def _issued_alerts() -> Select[Alert, str, str, EventRevision]:
    return (
        select(Alert, Event.public_id, Event.status, EventRevision)
        .join(Event, Event.id == Alert.event_id)
        .join(
            EventRevision,
            and_(EventRevision.event_id == Alert.event_id, EventRevision.version == Alert.revision),
        )
    )


def _to_issued(alert: Alert, public_id: str, status: str, rev: EventRevision) -> IssuedAlert:
    return IssuedAlert(
        alert_id=alert.id,
        event_id=alert.event_id,
        event_public_id=public_id,
        event_status=status,
        revision=alert.revision,
        level=alert.level,
        issued_at=alert.issued_at,
        origin_time=rev.origin_time,
        lat_deg=rev.lat_deg,
        lon_deg=rev.lon_deg,
        depth_km=rev.depth_km,
        magnitude=rev.magnitude,
        cells=tuple(alert.cells or ()),
    )


def get_issued_alert(
    session: Session, alert_id: int, *, include_withdrawn: bool = False
) -> IssuedAlert:
    """One deliverable alert by id; NotFound if unknown or (unless ``include_withdrawn``, as
    the CAP history needs) its event was withdrawn."""
    row = session.execute(_issued_alerts().where(Alert.id == alert_id)).first()
    if row is None or (row[2] in WITHDRAWN_STATUSES and not include_withdrawn):
        raise NotFound(f"no alert {alert_id}")
    return _to_issued(*row)


def device_cell(session: Session, device_id: uuid.UUID) -> str | None:
    """The device's coarsened position (H3 cell of its last heartbeat), if it ever sent one."""
    return session.scalar(select(DeviceState.cell).where(DeviceState.device_id == device_id))


def latest_alert_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Alert.id))) or 0)


def recent_issued_alerts(
    session: Session, now: datetime, window_s: float, after_id: int = 0
) -> list[IssuedAlert]:
    """Deliverable alerts issued in the last ``window_s`` with an id above ``after_id``, oldest
    first (the stream server's poll: a short window also catches an alert whose transaction
    committed after one with a larger id)."""
    rows = session.execute(
        _issued_alerts()
        .where(Alert.issued_at >= now - timedelta(seconds=window_s), Alert.id > after_id)
        .order_by(Alert.id)
        .limit(SCAN_LIMIT)
    ).all()
    return [_to_issued(*row) for row in rows if row[2] not in WITHDRAWN_STATUSES]


def device_cells(session: Session, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Current heartbeat cell of each device that has one."""
    found: dict[uuid.UUID, str] = {}
    for start in range(0, len(device_ids), 1000):
        chunk = list(device_ids[start : start + 1000])
        rows = session.execute(
            select(DeviceState.device_id, DeviceState.cell).where(DeviceState.device_id.in_(chunk))
        )
        found.update({row.device_id: row.cell for row in rows if row.cell})
    return found


def alert_statuses(session: Session, issued_after: datetime) -> dict[int, str]:
    """Alert id -> event status of the alerts issued after ``issued_after`` (the newest
    ``SCAN_LIMIT``): the stream server's cheap poll, which fetches in full only the ids it has
    not seen yet."""
    rows = session.execute(
        select(Alert.id, Event.status)
        .join(Event, Event.id == Alert.event_id)
        .where(Alert.issued_at >= issued_after)
        .order_by(Alert.id.desc())
        .limit(SCAN_LIMIT)
    )
    return {int(row.id): str(row.status) for row in rows}


def issued_alerts_by_id(session: Session, alert_ids: Sequence[int]) -> list[IssuedAlert]:
    """The alerts with these ids (withdrawn ones included: the caller keeps the status), by id."""
    if not alert_ids:
        return []
    rows = session.execute(
        _issued_alerts().where(Alert.id.in_(list(alert_ids))).order_by(Alert.id)
    ).all()
    return [_to_issued(*row) for row in rows]


def device_history(
    recent: Sequence[IssuedAlert],
    cell: str | None,
    *,
    now: datetime,
    since_id: int | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    limit: int = DEFAULT_LIMIT,
) -> list[DeviceAlert]:
    """``alerts_for_device(...).alerts`` computed from alerts already in memory (``recent``:
    every alert issued in the last ``max_age_s``, by id) for a device in ``cell``."""
    oldest = now - timedelta(seconds=max_age_s)
    if since_id is None:
        oldest = max(oldest, now - timedelta(seconds=window_s))
    found: list[DeviceAlert] = []
    for alert in recent:
        if len(found) == limit:
            break
        if alert.issued_at < oldest or (since_id is not None and alert.alert_id <= since_id):
            continue
        if cell is None or alert.event_status in WITHDRAWN_STATUSES:
            continue
        forecast = forecast_for_cell(cell, alert.cells)
        if forecast is not None:
            warning_s = (forecast.s_arrival_time - now).total_seconds()
            found.append(DeviceAlert(alert, forecast, warning_s))
    return found


def device_alert(
    alert: IssuedAlert, coverage: AlertCoverage, cell: str | None, now: datetime
) -> DeviceAlert | None:
    """``alert`` (indexed as ``coverage``) as the device in ``cell`` sees it, or None when the
    alert does not concern it."""
    if cell is None or alert.event_status in WITHDRAWN_STATUSES:
        return None
    forecast = coverage.forecast(cell)
    if forecast is None:
        return None
    return DeviceAlert(alert, forecast, (forecast.s_arrival_time - now).total_seconds())


def alerts_for_device(
    session: Session,
    device_id: uuid.UUID,
    *,
    now: datetime,
    since_id: int | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    limit: int = DEFAULT_LIMIT,
) -> DeviceAlertPage:
    """The device's alerts after the cursor ``since_id`` (default: issued in the last
    ``window_s``), oldest first, at most ``limit``; ``warning_time_s`` = S arrival - ``now``
    (negative once the S wave has passed)."""
    # Read before the scan: with nothing to examine this is the cursor, and an alert that
    # commits during the scan then has a larger id and is seen by the next request.
    cursor = since_id if since_id is not None else latest_alert_id(session)
    stmt = _issued_alerts().where(Alert.issued_at >= now - timedelta(seconds=max_age_s))
    if since_id is not None:
        stmt = stmt.where(Alert.id > since_id)
    else:
        stmt = stmt.where(Alert.issued_at >= now - timedelta(seconds=window_s))
    rows = session.execute(stmt.order_by(Alert.id).limit(SCAN_LIMIT)).all()
    # An idle stream polls twice a second: with nothing new, one query is all it costs.
    cell = device_cell(session, device_id) if rows else None
    found: list[DeviceAlert] = []
    for alert, public_id, status, rev in rows:
        if len(found) == limit:
            break
        cursor = max(cursor, alert.id)
        if status in WITHDRAWN_STATUSES or cell is None:
            continue
        forecast = forecast_for_cell(cell, alert.cells or ())
        if forecast is None:
            continue
        warning_s = (forecast.s_arrival_time - now).total_seconds()
        found.append(DeviceAlert(_to_issued(alert, public_id, status, rev), forecast, warning_s))
    return DeviceAlertPage(alerts=found, cursor=cursor)


def alert_document(alert: IssuedAlert) -> dict[str, Any]:
    """JSON-ready description of an alert for outbound publishers (webhooks)."""
    return {
        "alert_id": alert.alert_id,
        "event_id": alert.event_public_id,
        "revision": alert.revision,
        "level": alert.level,
        "issued_at": alert.issued_at.isoformat(),
        "origin_time": alert.origin_time.isoformat(),
        "latitude": alert.lat_deg,
        "longitude": alert.lon_deg,
        "depth_km": alert.depth_km,
        "magnitude": alert.magnitude,
        "cells": [dict(cell) for cell in alert.cells],
    }
