"""The FDSN event service text format (fdsnws-event 1.2, ``format=text``).

One header line and one line per event, fields separated by ``|``::

    #EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|MagType|Magnitude|MagAuthor|EventLocationName|EventType

Depth is in kilometres here (QuakeML uses metres). A ``|`` inside a value would break the format,
so it is replaced by ``/``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crowdquake.services.catalog import MAGNITUDE_TYPE, PublishedEvent
from crowdquake.services.formats.quakeml import iso_time, place_name

TEXT_MIME = "text/plain"
HEADER = (
    "#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|"
    "MagType|Magnitude|MagAuthor|EventLocationName|EventType"
)


def _clean(value: str) -> str:
    return value.replace("|", "/").replace("\n", " ")


def text_line(event: PublishedEvent, *, agency: str, catalog_id: str) -> str:
    """One line; ``agency`` and ``catalog_id`` must already be cleaned (:func:`_clean`)."""
    o = event.preferred
    public_id = _clean(event.public_id)
    if o.magnitude is None:
        magnitude_fields = "||"
    else:
        magnitude_fields = f"{MAGNITUDE_TYPE}|{o.magnitude:.2f}|{agency}"
    event_type = "not existing" if event.evaluation_status == "rejected" else "earthquake"
    time = iso_time(o.origin_time)[:-1]
    return (
        f"{public_id}|{time}|{o.lat_deg:.5f}|{o.lon_deg:.5f}|{o.depth_km:.3f}|"
        f"{agency}|{catalog_id}|{agency}|{public_id}|{magnitude_fields}|"
        f"{place_name(o.lat_deg, o.lon_deg)}|{event_type}"
    )


def render_text(events: Sequence[PublishedEvent], *, agency: str, catalog_id: str) -> bytes:
    agency, catalog_id = _clean(agency), _clean(catalog_id)
    lines = [HEADER, *(text_line(e, agency=agency, catalog_id=catalog_id) for e in events)]
    return ("\n".join(lines) + "\n").encode("utf-8")
