"""Query parameters of the FDSN event service (fdsnws-event 1.2) and their short aliases.

Parsing is strict, as the specification asks: an unknown or repeated parameter, a value of the
wrong type or outside its range is a 400 with a plain-text message naming the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from crowdquake.services.catalog import CatalogQuery
from crowdquake.storage.catalog import LISTED_STATUSES, EventFilter, OrderBy

Format = Literal["xml", "text", "geojson"]

ALIASES = {
    "start": "starttime",
    "end": "endtime",
    "minlat": "minlatitude",
    "maxlat": "maxlatitude",
    "minlon": "minlongitude",
    "maxlon": "maxlongitude",
    "lat": "latitude",
    "lon": "longitude",
    "minmag": "minmagnitude",
    "maxmag": "maxmagnitude",
    "magtype": "magnitudetype",
}
PARAMETERS = (
    "starttime",
    "endtime",
    "minlatitude",
    "maxlatitude",
    "minlongitude",
    "maxlongitude",
    "latitude",
    "longitude",
    "minradius",
    "maxradius",
    "mindepth",
    "maxdepth",
    "minmagnitude",
    "maxmagnitude",
    "magnitudetype",
    "eventtype",
    "includeallorigins",
    "includeallmagnitudes",
    "includearrivals",
    "eventid",
    "limit",
    "offset",
    "orderby",
    "catalog",
    "contributor",
    "updatedafter",
    "format",
    "nodata",
)
ORDERS: dict[str, OrderBy] = {
    "time": "time",
    "time-asc": "time-asc",
    "magnitude": "magnitude",
    "magnitude-asc": "magnitude-asc",
}
FORMATS = ("xml", "text", "geojson")
# What we publish: every event is an earthquake, every magnitude has this type.
EVENT_TYPES = ("earthquake",)
_TIME = re.compile(r"^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,6})?)?)?Z?$")
# Statuses a plain query lists: withdrawn events only show when asked by id or update time, so
# a consumer that syncs with ``updatedafter`` learns of the rejection.
PUBLIC_STATUSES = ("candidate", "held", "confirmed")


class BadRequest(ValueError):
    """A parameter the service cannot accept; the message names it."""


@dataclass(frozen=True, slots=True)
class FdsnQuery:
    catalog: CatalogQuery
    format: Format = "xml"
    nodata: int = 204
    all_origins: bool = False
    all_magnitudes: bool = False
    limit_given: bool = False
    # A filter on catalog, contributor, event type or magnitude type we do not publish: the
    # answer is empty whatever else was asked.
    empty: bool = False


def parse_time(name: str, raw: str) -> datetime:
    """FDSN time ``YYYY-MM-DD[THH:MM[:SS[.ssssss]]]``, UTC (a trailing ``Z`` is accepted)."""
    if not _TIME.match(raw):
        raise BadRequest(f"{name}: expected YYYY-MM-DDTHH:MM:SS[.ssssss] (UTC), got {raw!r}")
    try:
        value = datetime.fromisoformat(raw.rstrip("Z"))
    except ValueError:
        raise BadRequest(f"{name}: not a valid date or time: {raw!r}") from None
    return value.replace(tzinfo=UTC)


def parse_float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected a number, got {raw!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequest(f"{name}: must be between {low:g} and {high:g}, got {raw!r}")
    return value


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,19}", raw):
        raise BadRequest(f"{name}: expected a whole number, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}, got {raw!r}")
    return value


def parse_bool(name: str, raw: str) -> bool:
    if raw.lower() == "true":
        return True
    if raw.lower() == "false":
        return False
    raise BadRequest(f"{name}: expected true or false, got {raw!r}")


def _matches(patterns: str, values: Sequence[str]) -> bool:
    """FDSN list with ``*`` and ``?`` wildcards, case-insensitive."""
    for pattern in patterns.split(","):
        regex = re.escape(pattern.strip().lower()).replace(r"\*", ".*").replace(r"\?", ".")
        if any(re.fullmatch(regex, v.lower()) for v in values):
            return True
    return False


def canonical(args: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """One value per canonical name; unknown or repeated parameters are refused."""
    out: dict[str, str] = {}
    for key, values in args.items():
        name = ALIASES.get(key.lower(), key.lower())
        if name not in PARAMETERS:
            raise BadRequest(f"unknown parameter {key!r}")
        if name in out or len(values) != 1:
            raise BadRequest(f"parameter {name!r} given more than once")
        out[name] = values[0].strip()
    return out


def parse_query(
    args: Mapping[str, Sequence[str]],
    *,
    catalog_id: str,
    contributor: str,
    magnitude_type: str,
    max_events: int,
) -> FdsnQuery:
    """The service's view of a query string (``args`` maps each name to its values)."""
    p = canonical(args)
    get = p.get

    def number(name: str, low: float, high: float) -> float | None:
        raw = get(name)
        return None if raw is None else parse_float(name, raw, low, high)

    def flag(name: str) -> bool:
        raw = get(name)
        return False if raw is None else parse_bool(name, raw)

    start = parse_time("starttime", p["starttime"]) if "starttime" in p else None
    end = parse_time("endtime", p["endtime"]) if "endtime" in p else None
    if start is not None and end is not None and end < start:
        raise BadRequest("endtime: must not be before starttime")
    min_lat, max_lat = number("minlatitude", -90, 90), number("maxlatitude", -90, 90)
    if min_lat is not None and max_lat is not None and max_lat < min_lat:
        raise BadRequest("maxlatitude: must not be below minlatitude")
    min_lon, max_lon = number("minlongitude", -180, 180), number("maxlongitude", -180, 180)
    lat, lon = number("latitude", -90, 90), number("longitude", -180, 180)
    min_radius, max_radius = number("minradius", 0, 180), number("maxradius", 0, 180)
    centre = None
    if any(v is not None for v in (lat, lon, min_radius, max_radius)):
        centre = (lat or 0.0, lon or 0.0)
        if min_radius is not None and max_radius is not None and max_radius < min_radius:
            raise BadRequest("maxradius: must not be below minradius")
    min_depth, max_depth = number("mindepth", -10, 7000), number("maxdepth", -10, 7000)
    if min_depth is not None and max_depth is not None and max_depth < min_depth:
        raise BadRequest("maxdepth: must not be below mindepth")
    min_mag, max_mag = number("minmagnitude", -12, 12), number("maxmagnitude", -12, 12)
    if min_mag is not None and max_mag is not None and max_mag < min_mag:
        raise BadRequest("maxmagnitude: must not be below minmagnitude")
    updated_after = parse_time("updatedafter", p["updatedafter"]) if "updatedafter" in p else None
    limit = parse_int("limit", p["limit"], 1, 10**9) if "limit" in p else None
    offset = parse_int("offset", p["offset"], 1, 10**12) if "offset" in p else 1
    order_raw = get("orderby", "time").lower()
    if order_raw not in ORDERS:
        raise BadRequest(f"orderby: one of {', '.join(ORDERS)}, got {order_raw!r}")
    fmt = get("format", "xml").lower()
    if fmt not in FORMATS:
        raise BadRequest(f"format: one of {', '.join(FORMATS)}, got {fmt!r}")
    nodata = parse_int("nodata", get("nodata", "204"), 0, 999)
    if nodata not in (204, 404):
        raise BadRequest(f"nodata: 204 or 404, got {nodata}")
    event_id = get("eventid") or None
    all_origins, all_magnitudes = flag("includeallorigins"), flag("includeallmagnitudes")
    arrivals = flag("includearrivals")

    empty = False
    if "catalog" in p and not _matches(p["catalog"], [catalog_id]):
        empty = True
    if "contributor" in p and not _matches(p["contributor"], [contributor]):
        empty = True
    if "eventtype" in p and not _matches(p["eventtype"], EVENT_TYPES):
        empty = True
    if "magnitudetype" in p and not _matches(p["magnitudetype"], [magnitude_type]):
        empty = True

    statuses = LISTED_STATUSES if event_id or updated_after else PUBLIC_STATUSES
    event_filter = EventFilter(
        start=start,
        end=end,
        min_lat=min_lat,
        max_lat=max_lat,
        min_lon=min_lon,
        max_lon=max_lon,
        centre=centre,
        min_radius_deg=min_radius or 0.0,
        max_radius_deg=180.0 if max_radius is None else max_radius,
        min_depth_km=min_depth,
        max_depth_km=max_depth,
        min_magnitude=min_mag,
        max_magnitude=max_mag,
        public_id=event_id,
        updated_after=updated_after,
        statuses=statuses,
    )
    # One more than the maximum is read, so that "more than the maximum" can be told apart.
    fetch = max_events + 1 if limit is None else min(limit, max_events + 1)
    catalog = CatalogQuery(
        filter=event_filter,
        order=ORDERS[order_raw],
        limit=fetch,
        offset=offset - 1,
        revisions=all_origins or all_magnitudes,
        arrivals=arrivals,
        max_events=max_events,
    )
    return FdsnQuery(
        catalog=catalog,
        format=cast(Format, fmt),
        nodata=nodata,
        all_origins=all_origins,
        all_magnitudes=all_magnitudes,
        limit_given=limit is not None,
        empty=empty,
    )
