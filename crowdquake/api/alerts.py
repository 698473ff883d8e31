"""``/api/v1/alerts``: how alerts reach phones (polling, Server-Sent Events) and the public (CAP).

The stream never holds a database transaction open: each poll opens a short session, reads, and
closes it, so a connection that stays up for minutes costs no locks and no idle transaction.
Long-lived streams need a worker class that does not pin a process per client (gunicorn gthread
or gevent); the ``max_s`` bound lets proxies and clients recycle them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from flask import Blueprint, Response, request
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.api.alert_schemas import (
    MAX_ALERT_ID,
    AlertQuery,
    DeviceAlertList,
    DeviceAlertOut,
    StreamQuery,
)
from crowdquake.api.problems import field_path
from crowdquake.api.request import authenticated_device, enforce_rate_limit
from crowdquake.services import alerts, cap
from crowdquake.services.errors import FieldError, InvalidInput, NotFound
from crowdquake.services.ports import Clock
from crowdquake.web import container, get_session, transactional

bp = Blueprint("api_v1_alerts", __name__, url_prefix="/api/v1")

SSE_MIME = "text/event-stream"
# Module constants rather than settings: they shape the wire protocol, not the deployment.
POLL_INTERVAL_S = 0.5
KEEPALIVE_INTERVAL_S = 15.0
RECONNECT_MS = 2000


def _validated(model: type[AlertQuery], values: dict[str, str]) -> AlertQuery:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = tuple(FieldError(field_path(e["loc"]), e["msg"], e["type"]) for e in exc.errors())
        raise InvalidInput("invalid query parameters", errors) from None


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID")
    if raw is None or not raw.strip():
        return None
    try:
        return AlertQuery.model_validate({"since": raw.strip()}).since
    except ValidationError:
        raise InvalidInput(
            "invalid Last-Event-ID header",
            (FieldError("Last-Event-ID", "must be an alert id (integer >= 0)", "int_parsing"),),
        ) from None


@bp.get("/alerts")
@transactional
def list_alerts() -> Response:
    device = authenticated_device()
    query = _validated(AlertQuery, request.args.to_dict())
    page = alerts.alerts_for_device(
        get_session(), device.device_id, now=container().clock.now(), since_id=query.since
    )
    out = DeviceAlertList(alerts=[DeviceAlertOut.of(a) for a in page.alerts], cursor=page.cursor)
    response = Response(out.model_dump_json(), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def sse_event(found: alerts.DeviceAlert) -> str:
    """One ``alert`` event; JSON has no raw newlines, so one ``data:`` line is enough."""
    data = DeviceAlertOut.of(found).model_dump_json()
    return f"id: {found.alert.alert_id}\nevent: alert\ndata: {data}\n\n"


def alert_events(
    factory: sessionmaker[Session],
    clock: Clock,
    device_id: uuid.UUID,
    since_id: int | None,
    max_s: float,
) -> Iterator[str]:
    """The SSE body: poll with a fresh session, send new alerts, comment to keep proxies open."""
    yield f"retry: {RECONNECT_MS}\n\n"
    started = time.monotonic()
    deadline = started + max_s
    last_write = started
    cursor = since_id
    while time.monotonic() < deadline:
        with factory() as session:
            page = alerts.alerts_for_device(session, device_id, now=clock.now(), since_id=cursor)
        cursor = page.cursor
        for found in page.alerts:
            yield sse_event(found)
        now = time.monotonic()
        if page.alerts:
            last_write = now
        elif now - last_write >= KEEPALIVE_INTERVAL_S:
            yield ": keep-alive\n\n"
            last_write = now
        if len(page.alerts) < alerts.DEFAULT_LIMIT:  # a full page means more are waiting
            time.sleep(max(0.0, min(POLL_INTERVAL_S, deadline - now)))


@bp.get("/alerts/stream")
def stream_alerts() -> Response:
    session = get_session()
    try:
        device = authenticated_device()
        query = _validated(StreamQuery, request.args.to_dict())
        last_id = _last_event_id()
    finally:
        # The streaming body runs after this returns; nothing of the request's session may
        # stay open during it.
        session.close()
    assert isinstance(query, StreamQuery)
    services = container()
    body = alert_events(
        services.session_factory,
        services.clock,
        device.device_id,
        last_id if last_id is not None else query.since,
        query.max_s,
    )
    response = Response(body, mimetype=SSE_MIME)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx would otherwise buffer the stream
    return response


@bp.get("/alerts/<int:alert_id>.cap")
def alert_cap(alert_id: int) -> Response:
    """The CAP message of an alert: Alert, or Update referencing its own level's chain."""
    enforce_rate_limit(f"ip:{request.remote_addr}")
    if alert_id > MAX_ALERT_ID:  # beyond a 64-bit key: unknown, not a database error
        raise NotFound(f"no alert {alert_id}")
    body = cap.alert_message(get_session(), alert_id, sender=container().settings.cap_sender)
    return _cap_response(body)


@bp.get("/alerts/<int:alert_id>/cancel.cap")
def alert_cancel_cap(alert_id: int) -> Response:
    """The Cancel that ended the chain started by alert ``alert_id`` (404 while none)."""
    enforce_rate_limit(f"ip:{request.remote_addr}")
    if alert_id > MAX_ALERT_ID:
        raise NotFound(f"no alert {alert_id}")
    body = cap.cancel_message(get_session(), alert_id, sender=container().settings.cap_sender)
    return _cap_response(body)


@bp.get("/alerts/cap.atom")
def alerts_atom() -> Response:
    """Atom index of the CAP messages in force: the latest of every chain, Cancels included."""
    services = container()
    session = get_session()
    root = request.host_url.rstrip("/") + "/api/v1/alerts/"
    body = cap.render_atom(
        session,
        cap.current_messages(session, now=services.clock.now()),
        feed_url=root + "cap.atom",
        message_url=root + "{id}.cap",
        cancel_url=root + "{id}/cancel.cap",
        now=services.clock.now(),
        sender=services.settings.cap_sender,
    )
    response = Response(body, mimetype=cap.ATOM_MIME)
    response.headers["Cache-Control"] = "public, max-age=5"
    return response


def _cap_response(body: bytes) -> Response:
    response = Response(body, mimetype=cap.CAP_MIME)
    response.headers["Cache-Control"] = "public, max-age=30"
    return response
