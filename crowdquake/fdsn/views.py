"""``/fdsnws/event/1``: the FDSN event web service (fdsnws-event 1.2).

Errors are plain text in the specification's layout (section 2.4), not problem+json: FDSN
clients show that text to their users. An empty result is 204, or 404 with ``nodata=404``; a
result larger than ``CROWDQUAKE_FDSN_MAX_EVENTS`` (without a smaller ``limit``) is 413.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from crowdquake.fdsn.params import BadRequest, FdsnQuery, parse_query
from crowdquake.fdsn.wadl import WADL_MIME, render_wadl
from crowdquake.services.catalog import (
    MAGNITUDE_TYPE,
    PublishedEvent,
    TooManyEvents,
    published_events,
)
from crowdquake.services.formats.fdsntext import TEXT_MIME, render_text
from crowdquake.services.formats.geojson import GEOJSON_MIME, render_geojson
from crowdquake.services.formats.quakeml import QUAKEML_MIME, render_quakeml
from crowdquake.web import container, get_session

SERVICE_VERSION = "1.2.0"
PREFIX = "/fdsnws/event/1"
bp = Blueprint("fdsnws_event", __name__, url_prefix=PREFIX)

REASONS = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    500: "Internal Server Error",
}


def _service_url() -> str:
    return f"{request.host_url.rstrip('/')}{PREFIX}/"


def error_text(status: int, detail: str) -> Response:
    """The fdsnws error document (section 2.4 of the FDSN web service specifications)."""
    submitted = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    body = (
        f"Error {status}: {REASONS.get(status, 'Error')}\n\n"
        f"{detail}\n\n"
        f"Usage details are available from {_service_url()}\n\n"
        f"Request:\n{request.url}\n\n"
        f"Request Submitted:\n{submitted}\n\n"
        f"Service version:\n{SERVICE_VERSION}\n"
    )
    return Response(body, status=status, mimetype="text/plain")


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Response:
    return error_text(400, str(exc))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return error_text(exc.code or 500, exc.description or exc.name)


@bp.get("/")
def index() -> Response:
    base = _service_url()
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FDSN event service</title></head>
<body><h1>crowdquake FDSN event web service 1.2</h1>
<p>Query: <code>{base}query?starttime=2026-01-01&amp;minmagnitude=3&amp;format=text</code>.
The parameters and their short aliases are described in <a href="{base}application.wadl">the
WADL</a>; formats: <code>xml</code> (QuakeML 1.2, default), <code>text</code>,
<code>geojson</code>. Empty results are 204 (or 404 with <code>nodata=404</code>).</p>
<p><a href="{base}version">version</a> · <a href="{base}catalogs">catalogs</a> ·
<a href="{base}contributors">contributors</a></p></body></html>
"""
    return Response(body, mimetype="text/html")


@bp.get("/version")
def version() -> Response:
    return Response(SERVICE_VERSION, mimetype="text/plain")


@bp.get("/application.wadl")
def wadl() -> Response:
    return Response(render_wadl(_service_url()), mimetype=WADL_MIME)


def _names(tag: str, value: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag}s><{tag}>{value}</{tag}></{tag}s>\n'
    return Response(body, mimetype="application/xml")


@bp.get("/catalogs")
def catalogs() -> Response:
    return _names("Catalog", container().settings.catalog_name)


@bp.get("/contributors")
def contributors() -> Response:
    return _names("Contributor", container().settings.catalog_name)


def _render(query: FdsnQuery, events: list[PublishedEvent]) -> Response:
    settings = container().settings
    name = settings.catalog_name
    if query.format == "text":
        return Response(render_text(events, agency=name, catalog_id=name), mimetype=TEXT_MIME)
    if query.format == "geojson":
        body = render_geojson(
            events,
            generated=datetime.now(UTC),
            url=request.url,
            title=f"{name} FDSN event query",
            detail_url=f"{_service_url()}query?eventid={{id}}&format=geojson",
            page_url=f"{_service_url()}query?eventid={{id}}",
        )
        return Response(body, mimetype=GEOJSON_MIME)
    body = render_quakeml(
        events,
        authority=settings.quakeml_authority,
        agency=name,
        catalog_id=name,
        all_origins=query.all_origins,
        all_magnitudes=query.all_magnitudes,
    )
    return Response(body, mimetype=QUAKEML_MIME)


@bp.get("/query")
def query() -> Response:
    settings = container().settings
    parsed = parse_query(
        request.args.to_dict(flat=False),
        catalog_id=settings.catalog_name,
        contributor=settings.catalog_name,
        magnitude_type=MAGNITUDE_TYPE,
        max_events=settings.fdsn_max_events,
    )
    try:
        events = [] if parsed.empty else published_events(get_session(), parsed.catalog)
    except TooManyEvents:
        return error_text(
            413,
            f"more than {settings.fdsn_max_events} events match; narrow the selection or "
            f"page with limit (at most {settings.fdsn_max_events}) and offset",
        )
    if not events:
        if parsed.nodata == 404:
            return error_text(404, "No data matches the selection")
        return Response(status=204)
    return _render(parsed, events)
