"""``/api/v1/alerts``: how alerts reach phones (polling, Server-Sent Events) and the public (CAP).

The stream itself is served by the stream server (``crowdquake.api.stream_server``, its own
asyncio process); this blueprint authenticates the device and redirects to it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, request
from pydantic import ValidationError

from crowdquake.api import stream_tickets
from crowdquake.api.alert_schemas import (
    MAX_ALERT_ID,
    AlertQuery,
    DeviceAlertList,
    DeviceAlertOut,
    StreamQuery,
)
from crowdquake.api.problems import field_path
from crowdquake.api.request import authenticated_device, enforce_rate_limit
from crowdquake.config import Settings
from crowdquake.services import alerts, cap
from crowdquake.services.errors import FieldError, InvalidInput, NotFound
from crowdquake.web import container, get_session, transactional

bp = Blueprint("api_v1_alerts", __name__, url_prefix="/api/v1")


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


@bp.get("/alerts/stream")
def stream_alerts() -> Response:
    """Authenticate and validate here, then send the client to the stream server (307).

    Streams are served by their own asyncio process (``crowdquake.api.stream_server``), never by
    a web worker: an open stream must not hold a request slot that ingest needs. The redirect
    carries a short-lived signed ticket because clients drop the Authorization header on a
    redirect to another origin; ``Last-Event-ID`` becomes ``since``.
    """
    device = authenticated_device()
    query = _validated(StreamQuery, request.args.to_dict())
    assert isinstance(query, StreamQuery)
    last_id = _last_event_id()
    since = last_id if last_id is not None else query.since
    settings = container().settings
    params = {"ticket": stream_tickets.issue(settings.secret_key, device.device_id)}
    if since is not None:
        params["since"] = str(since)
    params["max_s"] = repr(query.max_s)
    location = f"{_stream_base(settings)}/api/v1/alerts/stream?{urlencode(params)}"
    return Response(status=307, headers={"Location": location, "Cache-Control": "no-store"})


def _stream_base(settings: Settings) -> str:
    if settings.stream_url:
        return settings.stream_url.rstrip("/")
    host = request.host  # "name", "name:port", "[v6]" or "[v6]:port"
    port = 443 if request.scheme == "https" else 80
    if not host.endswith("]") and ":" in host:
        host, _, text = host.rpartition(":")
        port = int(text)
    stream_port = int(settings.stream_bind.rpartition(":")[2]) if settings.stream_bind else port + 1
    return f"{request.scheme}://{host}:{stream_port}"


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
