"""``/api/v1/events``: the public, read-only list of detected earthquakes, a page at a time,
each with its preferred revision (every revision with ``include=revisions``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, request
from pydantic import ValidationError

from crowdquake.api.event_schemas import (
    EventOut,
    EventPage,
    EventQuery,
    decode_cursor,
    encode_cursor,
)
from crowdquake.api.problems import field_path
from crowdquake.api.request import enforce_rate_limit, query_time
from crowdquake.services.catalog import CatalogQuery, published_events
from crowdquake.services.errors import FieldError, InvalidInput
from crowdquake.storage.catalog import EventFilter
from crowdquake.web import container, get_session

bp = Blueprint("api_v1_events", __name__, url_prefix="/api/v1")
DEFAULT_SINCE = timedelta(days=1)
LISTED = ("candidate", "held", "confirmed")


def _since() -> datetime:
    raw = request.args.get("since")
    if raw is None:
        return container().clock.now() - DEFAULT_SINCE
    return query_time("since", raw)


def _query() -> EventQuery:
    try:
        return EventQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        errors = tuple(FieldError(field_path(e["loc"]), e["msg"], e["type"]) for e in exc.errors())
        raise InvalidInput("invalid query parameters", errors) from None


@bp.get("/events")
def list_events() -> Response:
    """Candidate, held and confirmed events created since ``since`` (default: the last day),
    oldest first, ``limit`` per page."""
    enforce_rate_limit(f"ip:{request.remote_addr}")
    query = _query()
    after = None
    if query.cursor is not None:
        after = decode_cursor(query.cursor)
        if after is None:
            raise InvalidInput(
                "invalid query parameters",
                (FieldError("cursor", "not a cursor this server issued", "value_error"),),
            )
    with_revisions = query.include == "revisions"
    catalog = CatalogQuery(
        filter=EventFilter(created_since=_since(), created_after=after, statuses=LISTED),
        order="created",
        limit=query.limit + 1,
        revisions=with_revisions,
    )
    events = published_events(get_session(), catalog)
    more = len(events) > query.limit
    events = events[: query.limit]
    next_cursor = (
        encode_cursor(events[-1].created_at, events[-1].public_id) if more and events else None
    )
    page = EventPage(
        events=[EventOut.of(e, with_revisions) for e in events], next_cursor=next_cursor
    )
    response = Response(page.model_dump_json(), mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    return response
