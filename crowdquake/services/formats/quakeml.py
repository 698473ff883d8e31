"""QuakeML 1.2 (Basic Event Description) writer for published events.

Units follow the QuakeML 1.2 BED specification: depth and depth uncertainty in metres, latitude
and longitude uncertainty in degrees, horizontal uncertainty in metres, distances of arrivals
in degrees, azimuths in degrees clockwise from north, times in UTC ISO 8601.

Resource identifiers are ``smi:<authority>/<kind>/<id>`` (QuakeML 1.2 section 3.1): events by
public id, origins and magnitudes by public id and revision number, picks by trigger id, so
every identifier is stable across requests and revisions.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from crowdquake.services.catalog import (
    KM_PER_DEG,
    MAGNITUDE_TYPE,
    Arrival,
    Origin,
    PublishedEvent,
)

Q_NS = "http://quakeml.org/xmlns/quakeml/1.2"
BED_NS = "http://quakeml.org/xmlns/bed/1.2"
QUAKEML_MIME = "application/xml"
NETWORK_CODE = "CQ"  # picks come from phones, grouped as one virtual network
M_PER_KM = 1000.0


def iso_time(value: datetime) -> str:
    """UTC with microseconds and a ``Z``.

    >>> iso_time(datetime(2026, 11, 25, 12, 0, 1, 250_000, tzinfo=UTC))
    '2026-11-25T12:00:01.250000Z'
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return f"{value.replace(tzinfo=None).isoformat(timespec='microseconds')}Z"


def _num(value: float) -> str:
    return repr(float(round(value, 6)))


class _Ids:
    def __init__(self, authority: str) -> None:
        self.prefix = f"smi:{authority}"
        self._methods: dict[str, str] = {}

    def event(self, public_id: str) -> str:
        return f"{self.prefix}/event/{public_id}"

    def origin(self, public_id: str, version: int) -> str:
        return f"{self.prefix}/origin/{public_id}/{version}"

    def magnitude(self, public_id: str, version: int) -> str:
        return f"{self.prefix}/magnitude/{public_id}/{version}"

    def pick(self, arrival: Arrival) -> str:
        return f"{self.prefix}/pick/{arrival.trigger_id}"

    def arrival(self, public_id: str, version: int, arrival: Arrival) -> str:
        return f"{self.prefix}/arrival/{public_id}/{version}/{arrival.trigger_id}"

    def cell(self, cell: str) -> str:
        return f"{self.prefix}/cell/{cell}"

    def method(self, name: str) -> str:
        found = self._methods.get(name)
        if found is None:  # a handful of method names per document: sanitised once each
            safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name) or "unknown"
            found = self._methods[name] = f"{self.prefix}/method/{safe}"
        return found


def station_code(cell: str) -> str:
    """An 8-character station code for an H3 cell (QuakeML limits ``stationCode`` to 8): the
    first 40 bits of its SHA-1 in base32. Stable per cell; the cell itself is the pick's
    waveform resource URI.

    >>> station_code("87283081affffff")
    '7DLGQT3P'
    """
    return base64.b32encode(hashlib.sha1(cell.encode("ascii")).digest()[:5]).decode("ascii")


def xml_text(value: str) -> str:
    """``value`` escaped for XML character data and double-quoted attribute values.

    >>> xml_text('a<b & "c">')
    'a&lt;b &amp; &quot;c&quot;&gt;'
    """
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if '"' in value:
        value = value.replace('"', "&quot;")
    return value


# The writer appends strings to one list (a template per element) instead of building an
# element tree: an order of magnitude less work per event, the same document (the tests compare
# it with an element-tree writer). Numbers and timestamps need no escaping; every other text
# goes through xml_text.


def _quantity(out: list[str], tag: str, value: str, uncertainty: float | None) -> None:
    if uncertainty is None:
        out.append(f"<{tag}><value>{value}</value></{tag}>")
    else:
        out.append(
            f"<{tag}><value>{value}</value><uncertainty>{_num(uncertainty)}</uncertainty></{tag}>"
        )


def _creation(out: list[str], agency: str, at: datetime, version: str | None = None) -> None:
    v = "" if version is None else f"<version>{version}</version>"
    out.append(
        f"<creationInfo><agencyID>{agency}</agencyID>"
        f"<creationTime>{iso_time(at)}</creationTime>{v}</creationInfo>"
    )


def _pick(out: list[str], ids: _Ids, agency: str, arrival: Arrival) -> None:
    out.append(f'<pick publicID="{xml_text(ids.pick(arrival))}">')
    _quantity(out, "time", iso_time(arrival.time), None)
    out.append(
        f'<waveformID networkCode="{NETWORK_CODE}" stationCode="{station_code(arrival.station)}">'
        f"{xml_text(ids.cell(arrival.station))}</waveformID>"
        f"<phaseHint>{xml_text(arrival.phase)}</phaseHint>"
        "<evaluationMode>automatic</evaluationMode>"
    )
    _creation(out, agency, arrival.time)
    out.append("</pick>")


def _origin(
    out: list[str],
    ids: _Ids,
    agency: str,
    event: PublishedEvent,
    origin: Origin,
    arrivals: Sequence[Arrival],
    status: str,
) -> None:
    out.append(f'<origin publicID="{xml_text(ids.origin(event.public_id, origin.version))}">')
    _quantity(out, "time", iso_time(origin.origin_time), origin.origin_time_uncertainty_s)
    h_km = origin.horizontal_uncertainty_km
    lat_unc = None if h_km is None else h_km / KM_PER_DEG
    cos_lat = max(math.cos(math.radians(origin.lat_deg)), 1e-6)
    lon_unc = None if h_km is None else h_km / (KM_PER_DEG * cos_lat)
    _quantity(out, "latitude", _num(origin.lat_deg), lat_unc)
    _quantity(out, "longitude", _num(origin.lon_deg), lon_unc)
    depth_unc = origin.depth_uncertainty_km
    _quantity(
        out,
        "depth",
        _num(origin.depth_km * M_PER_KM),
        None if depth_unc is None else depth_unc * M_PER_KM,
    )
    n = origin.n_triggers
    out.append(
        f"<methodID>{xml_text(ids.method(origin.method))}</methodID>"
        f"<quality><associatedPhaseCount>{n}</associatedPhaseCount>"
        f"<usedPhaseCount>{n}</usedPhaseCount>"
        f"<associatedStationCount>{n}</associatedStationCount>"
        f"<usedStationCount>{n}</usedStationCount>"
    )
    if arrivals:
        out.append(
            f"<minimumDistance>{_num(min(a.distance_deg for a in arrivals))}</minimumDistance>"
            f"<maximumDistance>{_num(max(a.distance_deg for a in arrivals))}</maximumDistance>"
        )
    out.append(
        "</quality><type>hypocenter</type>"
        f"<evaluationMode>{event.evaluation_mode}</evaluationMode>"
        f"<evaluationStatus>{status}</evaluationStatus>"
    )
    if h_km is not None:
        out.append(
            "<originUncertainty>"
            f"<horizontalUncertainty>{_num(h_km * M_PER_KM)}</horizontalUncertainty>"
            "<preferredDescription>horizontal uncertainty</preferredDescription>"
            "</originUncertainty>"
        )
    _creation(out, agency, origin.created_at, str(origin.version))
    for arrival in arrivals:
        arrival_id = xml_text(ids.arrival(event.public_id, origin.version, arrival))
        out.append(
            f'<arrival publicID="{arrival_id}">'
            f"<pickID>{xml_text(ids.pick(arrival))}</pickID>"
            f"<phase>{xml_text(arrival.phase)}</phase>"
            f"<azimuth>{_num(arrival.azimuth_deg)}</azimuth>"
            f"<distance>{_num(arrival.distance_deg)}</distance>"
            f"<timeResidual>{_num(arrival.residual_s)}</timeResidual></arrival>"
        )
    out.append("</origin>")


def _magnitude(
    out: list[str], ids: _Ids, agency: str, event: PublishedEvent, origin: Origin, status: str
) -> None:
    assert origin.magnitude is not None
    out.append(f'<magnitude publicID="{xml_text(ids.magnitude(event.public_id, origin.version))}">')
    _quantity(out, "mag", _num(origin.magnitude), origin.magnitude_uncertainty)
    out.append(
        f"<type>{MAGNITUDE_TYPE}</type>"
        f"<originID>{xml_text(ids.origin(event.public_id, origin.version))}</originID>"
        f"<methodID>{xml_text(ids.method(origin.method))}</methodID>"
        f"<stationCount>{origin.n_triggers}</stationCount>"
        f"<evaluationMode>{event.evaluation_mode}</evaluationMode>"
        f"<evaluationStatus>{status}</evaluationStatus>"
    )
    _creation(out, agency, origin.created_at, str(origin.version))
    out.append("</magnitude>")


def _event(
    out: list[str],
    ids: _Ids,
    agency: str,
    event: PublishedEvent,
    *,
    all_origins: bool,
    all_magnitudes: bool,
) -> None:
    preferred = event.preferred
    status = event.evaluation_status
    out.append(
        f'<event publicID="{xml_text(ids.event(event.public_id))}">'
        "<preferredOriginID>"
        f"{xml_text(ids.origin(event.public_id, preferred.version))}</preferredOriginID>"
    )
    if preferred.magnitude is not None:
        magnitude_id = xml_text(ids.magnitude(event.public_id, preferred.version))
        out.append(f"<preferredMagnitudeID>{magnitude_id}</preferredMagnitudeID>")
    event_type = "not existing" if status == "rejected" else "earthquake"
    certainty = "known" if event.status == "confirmed" else "suspected"
    out.append(
        f"<type>{event_type}</type><typeCertainty>{certainty}</typeCertainty>"
        f"<description><text>{place_name(preferred.lat_deg, preferred.lon_deg)}</text>"
        "<type>region name</type></description>"
    )
    _creation(out, agency, event.created_at)
    for arrival in event.arrivals:
        _pick(out, ids, agency, arrival)
    revisions = event.origins or (preferred,)
    origins = revisions if all_origins else (preferred,)
    for origin in origins:
        # Superseded revisions stay preliminary; the event's status is its current estimate's.
        origin_status = status if origin.version == preferred.version else "preliminary"
        if origin_status == "preliminary" and status == "rejected":
            origin_status = "rejected"
        arrivals = event.arrivals if origin.version == preferred.version else ()
        _origin(out, ids, agency, event, origin, arrivals, origin_status)
    magnitudes = revisions if all_magnitudes else origins
    for origin in magnitudes:
        if origin.magnitude is None:
            continue
        origin_status = status if origin.version == preferred.version else "preliminary"
        _magnitude(out, ids, agency, event, origin, origin_status)
    out.append("</event>")


def place_name(lat_deg: float, lon_deg: float) -> str:
    """Epicentre as text (FDSN text EventLocationName, QuakeML region name).

    >>> place_name(37.87, -122.26)
    '37.870°N 122.260°W'
    """
    ns = "N" if lat_deg >= 0 else "S"
    ew = "E" if lon_deg >= 0 else "W"
    return f"{abs(lat_deg):.3f}°{ns} {abs(lon_deg):.3f}°{ew}"


def render_quakeml(
    events: Sequence[PublishedEvent],
    *,
    authority: str,
    agency: str,
    catalog_id: str,
    all_origins: bool = False,
    all_magnitudes: bool = False,
) -> bytes:
    """A QuakeML 1.2 document with ``events`` as UTF-8 XML.

    With ``all_origins`` (``includeallorigins``) every loaded revision of an event is an origin,
    else only the preferred one; with ``all_magnitudes`` every revision's magnitude is written
    (the events must then carry their revisions in ``origins``).
    """
    ids = _Ids(authority)
    agency_text = xml_text(agency)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<q:quakeml xmlns:q="{Q_NS}" xmlns="{BED_NS}">'
        f'<eventParameters publicID="{xml_text(f"smi:{authority}/catalog/{catalog_id}")}">'
    ]
    for event in events:
        _event(out, ids, agency_text, event, all_origins=all_origins, all_magnitudes=all_magnitudes)
    out.append("</eventParameters></q:quakeml>")
    return "".join(out).encode("utf-8")
