"""The FDSN event service text format (fdsnws-event 1.2, ``format=text``).

One header line and one line per event, fields separated by ``|``::

    #EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|MagType|Magnitude|MagAuthor|EventLocationName|EventType

Depth is in kilometres here (QuakeML uses metres). A ``|`` inside a value would break the format,
so it is replaced by ``/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from crowdquake.services.catalog import MAGNITUDE_TYPE, PublishedEvent
from crowdquake.services.formats.quakeml import place_name

TEXT_MIME = "text/plain"
HEADER = (
    "#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|"
    "MagType|Magnitude|MagAuthor|EventLocationName|EventType"
)


def _clean(value: str) -> str:
    return value.replace("|", "/").replace("\n", " ")


def text_line(event: PublishedEvent, *, agency: str, catalog_id: str) -> str:
    o = event.preferred
    magnitude = "" if o.magnitude is None else f"{o.magnitude:.2f}"
    event_type = "not existing" if event.evaluation_status == "rejected" else "earthquake"
    fields = [
        event.public_id,
        o.origin_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        f"{o.lat_deg:.5f}",
        f"{o.lon_deg:.5f}",
        f"{o.depth_km:.3f}",
        agency,
        catalog_id,
        agency,
        event.public_id,
        MAGNITUDE_TYPE if o.magnitude is not None else "",
        magnitude,
        agency if o.magnitude is not None else "",
        place_name(o.lat_deg, o.lon_deg),
        event_type,
    ]
    return "|".join(_clean(f) for f in fields)


def render_text(events: Sequence[PublishedEvent], *, agency: str, catalog_id: str) -> bytes:
    lines = [HEADER, *(text_line(e, agency=agency, catalog_id=catalog_id) for e in events)]
    return ("\n".join(lines) + "\n").encode("utf-8")
