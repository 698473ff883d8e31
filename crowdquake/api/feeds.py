"""``/api/v1/feeds/{feed}.geojson``: USGS-style GeoJSON summary feeds, cached per process, with
ETag / Last-Modified and conditional GET (304)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from crowdquake.services.errors import NotFound
from crowdquake.services.feeds import LEVELS, PERIODS, FeedCache, FeedUrls, cached_feed
from crowdquake.services.formats.geojson import GEOJSON_MIME
from crowdquake.web import container

bp = Blueprint("api_v1_feeds", __name__, url_prefix="/api/v1")
CACHE_KEY = "feed_cache"


def _cache() -> FeedCache:
    services = container()
    cache = services.extras.get(CACHE_KEY)
    if cache is None:
        cache = services.extras.setdefault(CACHE_KEY, FeedCache(services.settings.feed_cache_s))
    return cache  # type: ignore[no-any-return]


def _parse(name: str) -> tuple[str, str]:
    level, sep, period = name.rpartition("_")
    if not sep:
        level = "all"
    if level not in LEVELS or period not in PERIODS:
        raise NotFound(
            f"no feed {name!r}: use [{'|'.join(LEVELS)}_]{{{'|'.join(PERIODS)}}}.geojson"
        )
    return level, period


@bp.get("/feeds/<feed>.geojson")
def get_feed(feed: str) -> Response:
    level, period = _parse(feed)
    services = container()
    root = request.host_url.rstrip("/")
    fdsn = f"{root}/fdsnws/event/1/query?eventid={{id}}"
    found = cached_feed(
        _cache(),
        services.session_factory,
        level,
        period,
        now=services.clock.now,
        urls=FeedUrls(feed=f"{root}{request.path}", detail=f"{fdsn}&format=geojson", page=fdsn),
        name=services.settings.catalog_name,
    )
    response = Response(found.body, mimetype=GEOJSON_MIME)
    response.set_etag(found.etag)
    response.last_modified = found.last_modified
    response.headers["Cache-Control"] = f"public, max-age={int(services.settings.feed_cache_s)}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # web maps read feeds cross-origin
    response.make_conditional(request)  # 304 when If-None-Match / If-Modified-Since match
    return response
