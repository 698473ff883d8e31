"""GeoJSON summary feeds in the USGS layout: one per (minimum magnitude, period), rebuilt at
most once per cache period per web process, so that a burst of readers after a big earthquake
costs one query per process and period, and conditional GETs cost nothing but a comparison.

Feed names follow the USGS summary feeds: ``{level}_{period}`` with level ``all``, ``1.0``,
``2.5``, ``4.5`` (minimum magnitude) and period ``hour``, ``day``, ``week``, ``month`` (the last
1 h, 24 h, 7 d, 30 d of origin times). Withdrawn (rejected, cancelled) events leave the feed.

The validator is the content: the ETag is a digest of the features, so it changes exactly when
what a reader sees changes (a new event, a revision, a status change, an event leaving the
window), and ``Last-Modified`` is when this process first built that content.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crowdquake.services.catalog import CatalogQuery, published_events
from crowdquake.services.formats.geojson import bbox, feature
from crowdquake.storage.catalog import EventFilter

PERIODS = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
LEVELS: dict[str, float | None] = {"all": None, "1.0": 1.0, "2.5": 2.5, "4.5": 4.5}
FEED_STATUSES = ("candidate", "held", "confirmed")
TITLES = {"all": "All earthquakes", "1.0": "M1.0+", "2.5": "M2.5+", "4.5": "M4.5+"}


@dataclass(frozen=True, slots=True)
class Feed:
    body: bytes
    etag: str
    last_modified: datetime
    count: int


@dataclass(frozen=True, slots=True)
class Built:
    features: bytes  # the serialised JSON array of features
    etag: str
    count: int
    bbox: list[float] | None


@dataclass(frozen=True, slots=True)
class FeedUrls:
    """``feed`` is the feed's own URL; ``detail`` and ``page`` are templates with ``{id}``."""

    feed: str
    detail: str
    page: str


def build_feed(
    session: Session, level: str, period: str, *, now: datetime, urls: FeedUrls, name: str
) -> Built:
    """The features of one feed and their digest; :func:`wrap` makes the collection."""
    events = published_events(
        session,
        CatalogQuery(
            filter=EventFilter(
                start=now - PERIODS[period],
                min_magnitude=LEVELS[level],
                statuses=FEED_STATUSES,
            ),
            order="time",
        ),
    )
    features = [
        feature(
            e,
            detail_url=urls.detail.format(id=e.public_id),
            page_url=urls.page.format(id=e.public_id),
        )
        for e in events
    ]
    text = json.dumps(features, separators=(",", ":"), allow_nan=False)
    etag = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return Built(text.encode("utf-8"), etag, len(features), bbox(events))


def wrap(built: Built, *, generated: datetime, url: str, title: str) -> bytes:
    """The FeatureCollection around already-serialised features (no second JSON encoding)."""
    metadata = {
        "generated": round(generated.timestamp() * 1000.0),
        "url": url,
        "title": title,
        "status": 200,
        "api": "1.0.0",
        "count": built.count,
    }
    head: dict[str, object] = {"type": "FeatureCollection", "metadata": metadata}
    if built.bbox is not None:
        head["bbox"] = built.bbox
    text = json.dumps(head, separators=(",", ":"))
    return text[:-1].encode("utf-8") + b',"features":' + built.features + b"}"


class FeedCache:
    """Rendered feeds of one process, each reused for ``ttl_s`` seconds.

    One thread rebuilds an expired feed while the others keep serving the previous one
    (stale-while-revalidate); only the very first build of a feed makes readers wait.
    """

    def __init__(self, ttl_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Feed]] = {}
        self._building: dict[str, threading.Lock] = {}
        self.builds = 0

    def get(self, key: str, build: Callable[[Feed | None], Feed]) -> Feed:
        with self._lock:
            entry = self._entries.get(key)
            building = self._building.setdefault(key, threading.Lock())
        if entry is not None and self._monotonic() - entry[0] < self.ttl_s:
            return entry[1]
        if entry is not None and not building.acquire(blocking=False):
            return entry[1]  # someone else is rebuilding: serve the previous one meanwhile
        if entry is None:
            building.acquire()
        try:
            with self._lock:
                current = self._entries.get(key)
            if current is not None and self._monotonic() - current[0] < self.ttl_s:
                return current[1]
            feed = build(current[1] if current is not None else None)
            self.builds += 1
            with self._lock:
                self._entries[key] = (self._monotonic(), feed)
            return feed
        finally:
            building.release()


def cached_feed(
    cache: FeedCache,
    session_factory: Callable[[], Session],
    level: str,
    period: str,
    *,
    now: Callable[[], datetime],
    urls: FeedUrls,
    name: str,
) -> Feed:
    """The feed from ``cache``, rebuilt with a fresh session when it expired; the ETag and
    ``Last-Modified`` stay those of the previous build when the features did not change."""

    def build(previous: Feed | None) -> Feed:
        at = now()
        with session_factory() as session:
            built = build_feed(session, level, period, now=at, urls=urls, name=name)
        if previous is not None and previous.etag == built.etag:
            return previous
        title = f"{name}: {TITLES[level]}, past {period}"
        body = wrap(built, generated=at, url=urls.feed, title=title)
        return Feed(body=body, etag=built.etag, last_modified=at, count=built.count)

    return cache.get(f"{level}_{period}", build)
