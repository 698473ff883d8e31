"""GeoJSON in the structure of the USGS earthquake feeds (a ``FeatureCollection`` with
``metadata``, ``bbox`` and one ``Feature`` per event).

Per feature: ``geometry.coordinates`` = [longitude °, latitude °, depth km]; ``properties``
carry ``mag``, ``place``, ``time`` and ``updated`` (milliseconds since the epoch, as USGS),
``status`` ("automatic", "reviewed" once an operator acted, "deleted" when rejected), ``magType``,
``nst`` (associated triggers), ``sig`` and ``title``. Fields we have no source for (felt reports,
intensity, PAGER alert) are ``null``; ``tsunami`` is 0 (never flagged).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crowdquake.services.catalog import MAGNITUDE_TYPE, PublishedEvent
from crowdquake.services.formats.quakeml import place_name

GEOJSON_MIME = "application/geo+json"
NETWORK = "cq"


def epoch_ms(value: datetime) -> int:
    return round(value.timestamp() * 1000.0)


def significance(magnitude: float | None) -> int:
    """USGS ``sig`` from the magnitude alone (their formula without felt reports or PAGER):
    mag * 100 * mag / 6.5, rounded; 0 without a magnitude.

    >>> significance(6.5), significance(4.0), significance(None)
    (650, 246, 0)
    """
    if magnitude is None or magnitude <= 0:
        return 0
    return round(magnitude * 100.0 * magnitude / 6.5)


def feed_status(event: PublishedEvent) -> str:
    if event.evaluation_status == "rejected":
        return "deleted"
    return "reviewed" if event.reviewed else "automatic"


def feature(event: PublishedEvent, *, detail_url: str, page_url: str) -> dict[str, Any]:
    o = event.preferred
    place = place_name(o.lat_deg, o.lon_deg)
    mag = None if o.magnitude is None else round(o.magnitude, 2)
    title = f"M {mag:.1f} - {place}" if mag is not None else f"Earthquake - {place}"
    return {
        "type": "Feature",
        "properties": {
            "mag": mag,
            "place": place,
            "time": epoch_ms(o.origin_time),
            "updated": epoch_ms(event.updated_at),
            "tz": None,
            "url": page_url,
            "detail": detail_url,
            "felt": None,
            "cdi": None,
            "mmi": None,
            "alert": None,
            "status": feed_status(event),
            "tsunami": 0,
            "sig": significance(o.magnitude),
            "net": NETWORK,
            "code": event.public_id,
            "ids": f",{event.public_id},",
            "sources": f",{NETWORK},",
            "types": ",origin,",
            "nst": o.n_triggers,
            "dmin": None,
            "rms": None,
            "gap": None,
            "magType": MAGNITUDE_TYPE if mag is not None else None,
            "type": "earthquake",
            "title": title,
            "evaluationStatus": event.evaluation_status,
            "revision": o.version,
        },
        "geometry": {
            "type": "Point",
            "coordinates": [round(o.lon_deg, 5), round(o.lat_deg, 5), round(o.depth_km, 3)],
        },
        "id": event.public_id,
    }


def bbox(events: Sequence[PublishedEvent]) -> list[float] | None:
    if not events:
        return None
    lons = [e.preferred.lon_deg for e in events]
    lats = [e.preferred.lat_deg for e in events]
    depths = [e.preferred.depth_km for e in events]
    return [
        round(min(lons), 5),
        round(min(lats), 5),
        round(min(depths), 3),
        round(max(lons), 5),
        round(max(lats), 5),
        round(max(depths), 3),
    ]


def render_geojson(
    events: Sequence[PublishedEvent],
    *,
    generated: datetime,
    url: str,
    title: str,
    detail_url: str,
    page_url: str,
) -> bytes:
    """The collection as UTF-8 JSON; ``detail_url`` and ``page_url`` are templates with
    ``{id}`` for the event's public id."""
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "metadata": {
            "generated": epoch_ms(generated),
            "url": url,
            "title": title,
            "status": 200,
            "api": "1.0.0",
            "count": len(events),
        },
        "features": [
            feature(
                e,
                detail_url=detail_url.format(id=e.public_id),
                page_url=page_url.format(id=e.public_id),
            )
            for e in events
        ],
    }
    box = bbox(events)
    if box is not None:
        collection["bbox"] = box
    return json.dumps(collection, separators=(",", ":"), allow_nan=False).encode("utf-8")
