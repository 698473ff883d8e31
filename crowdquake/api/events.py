"""``/api/v1/events``: the public, read-only list of detected earthquakes and their revisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, json, request

from crowdquake.api.request import query_time
from crowdquake.services.replay import collect_events
from crowdquake.web import get_session

bp = Blueprint("api_v1_events", __name__, url_prefix="/api/v1")
DEFAULT_SINCE = timedelta(days=1)


def _since() -> datetime:
    raw = request.args.get("since")
    if raw is None:
        return datetime.now(UTC) - DEFAULT_SINCE
    return query_time("since", raw)


@bp.get("/events")
def list_events() -> Response:
    """Candidate and confirmed events created since ``since`` (default: the last day)."""
    events = collect_events(get_session(), since=_since())
    return Response(json.dumps({"events": events}), mimetype="application/json")
