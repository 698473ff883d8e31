"""GeoJSON feeds (USGS layout, ETag/Last-Modified, 304, per-process cache) and the paginated,
typed ``/api/v1/events``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.api.feeds import CACHE_KEY
from crowdquake.services.feeds import FeedCache
from crowdquake.storage.models import Event
from tests.factories import Quake, add_quake


class Ticker:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ticker(app: Flask) -> Ticker:
    ticker = Ticker()
    app.extensions["crowdquake"].extras[CACHE_KEY] = FeedCache(5.0, monotonic=ticker)
    return ticker


@pytest.fixture
def quakes(session: Session, now: datetime) -> list[Quake]:
    hour = timedelta(hours=1)
    made = [
        Quake("cqrecent", now - 0.5 * hour, 37.8, -122.3, 10.0, 4.9, revisions=2),
        Quake("cqsmall", now - 3 * hour, 37.5, -122.0, 8.0, 1.5),
        Quake("cqheld", now - 5 * hour, 36.0, -120.0, 6.0, 3.0, status="held"),
        Quake("cqrejected", now - 2 * hour, 37.0, -121.0, 5.0, 3.5, status="rejected"),
        Quake("cqlastweek", now - 72 * hour, 35.0, -118.0, 12.0, 5.5),
    ]
    for q in made:
        add_quake(session, q)
    session.commit()
    return made


def ids(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [f["id"] for f in body["features"]]


def test_feeds_list_the_window_and_level(client: FlaskClient, quakes: list[Quake]) -> None:
    day = client.get("/api/v1/feeds/day.geojson")
    assert day.status_code == 200 and day.mimetype == "application/geo+json"
    body = day.json
    assert body is not None
    assert body["type"] == "FeatureCollection"
    assert body["metadata"]["count"] == 3
    assert ids(body) == ["cqrecent", "cqsmall", "cqheld"]  # newest first, no withdrawn event
    assert body["features"][0]["properties"]["mag"] == 4.9
    assert body["features"][0]["geometry"]["coordinates"] == [-122.3, 37.8, 10.0]
    assert len(body["bbox"]) == 6
    assert ids(client.get("/api/v1/feeds/2.5_day.geojson").json) == ["cqrecent", "cqheld"]
    assert ids(client.get("/api/v1/feeds/hour.geojson").json) == ["cqrecent"]
    assert ids(client.get("/api/v1/feeds/4.5_week.geojson").json) == ["cqrecent", "cqlastweek"]
    assert client.get("/api/v1/feeds/all_month.geojson").json["metadata"]["count"] == 4
    for bad in ("year", "3.0_day", "all_", "_day"):
        response = client.get(f"/api/v1/feeds/{bad}.geojson")
        assert response.status_code == 404, bad
        assert response.mimetype == "application/problem+json"


def test_conditional_get_and_cache(
    client: FlaskClient, app: Flask, session: Session, quakes: list[Quake], ticker: Ticker
) -> None:
    first = client.get("/api/v1/feeds/day.geojson")
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "public, max-age=5"
    assert (
        client.get("/api/v1/feeds/day.geojson", headers={"If-None-Match": etag}).status_code == 304
    )
    since = first.headers["Last-Modified"]
    assert (
        client.get("/api/v1/feeds/day.geojson", headers={"If-Modified-Since": since}).status_code
        == 304
    )
    cache = app.extensions["crowdquake"].extras[CACHE_KEY]
    assert cache.builds == 1

    # Within the cache period a new event is not seen yet (one build served every reader).
    event = session.scalar(select(Event).where(Event.public_id == "cqrecent"))
    assert event is not None
    event.status = "rejected"
    session.commit()
    assert client.get("/api/v1/feeds/day.geojson").headers["ETag"] == etag
    assert cache.builds == 1

    # After it the rejection is visible: the event left, the validators changed.
    ticker.t = 6.0
    later = client.get("/api/v1/feeds/day.geojson", headers={"If-None-Match": etag})
    assert later.status_code == 200
    assert later.headers["ETag"] != etag
    assert ids(later.json) == ["cqsmall", "cqheld"]

    # Rebuilt without a change: the same ETag, still 304 for the reader who has it.
    ticker.t = 12.0
    again = client.get(
        "/api/v1/feeds/day.geojson", headers={"If-None-Match": later.headers["ETag"]}
    )
    assert again.status_code == 304
    assert cache.builds == 3


def test_events_are_paginated_with_the_preferred_revision(
    client: FlaskClient, quakes: list[Quake], now: datetime
) -> None:
    since = (now - timedelta(days=7)).isoformat()
    seen: list[str] = []
    params: dict[str, str] = {"since": since, "limit": "2"}
    pages = 0
    while True:
        response = client.get("/api/v1/events", query_string=params)
        assert response.status_code == 200, response.json
        page = response.json
        assert page is not None
        assert len(page["events"]) <= 2
        seen += [e["public_id"] for e in page["events"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == 2
    # Oldest first by creation, withdrawn events left out, held events shown.
    assert seen == ["cqlastweek", "cqheld", "cqsmall", "cqrecent"]
    recent = client.get("/api/v1/events", query_string={"since": since}).json["events"][-1]
    assert recent["revision"] == 2 and recent["revisions"] is None
    assert recent["latitude"] == 37.8 and recent["magnitude"] == 4.9
    assert recent["evaluation_status"] == "confirmed" and recent["magnitude_type"] == "Mw"
    full = client.get("/api/v1/events", query_string={"since": since, "include": "revisions"})
    revisions = full.json["events"][-1]["revisions"]
    assert [r["version"] for r in revisions] == [1, 2]
    assert revisions[0]["latitude"] == pytest.approx(37.79)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"include": "everything"}, "include"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_event_query_errors_name_the_field(
    client: FlaskClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/events", query_string=params)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [e["field"] for e in response.json["errors"]] == [field]
