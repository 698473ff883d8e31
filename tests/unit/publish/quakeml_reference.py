"""Reference QuakeML writer for the golden-structure tests: the element-tree implementation the
service used before its string-template writer (``crowdquake.services.formats.quakeml``). The
tests require both to produce the same XML infoset for the same events.

Original docstring: QuakeML 1.2 (Basic Event Description) writer for published events.

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
import xml.etree.ElementTree as ET
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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(value: float) -> str:
    return repr(float(round(value, 6)))


class _Ids:
    def __init__(self, authority: str) -> None:
        self.prefix = f"smi:{authority}"

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
        safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name) or "unknown"
        return f"{self.prefix}/method/{safe}"


def station_code(cell: str) -> str:
    """An 8-character station code for an H3 cell (QuakeML limits ``stationCode`` to 8): the
    first 40 bits of its SHA-1 in base32. Stable per cell; the cell itself is the pick's
    waveform resource URI.

    >>> station_code("87283081affffff")
    '7DLGQT3P'
    """
    return base64.b32encode(hashlib.sha1(cell.encode("ascii")).digest()[:5]).decode("ascii")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{BED_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _quantity(parent: ET.Element, tag: str, value: str, uncertainty: float | None) -> None:
    element = _sub(parent, tag)
    _sub(element, "value", value)
    if uncertainty is not None:
        _sub(element, "uncertainty", _num(uncertainty))


def _creation(parent: ET.Element, agency: str, at: datetime, version: str | None = None) -> None:
    info = _sub(parent, "creationInfo")
    _sub(info, "agencyID", agency)
    _sub(info, "creationTime", iso_time(at))
    if version is not None:
        _sub(info, "version", version)


def _pick(parent: ET.Element, ids: _Ids, agency: str, arrival: Arrival) -> None:
    pick = _sub(parent, "pick")
    pick.set("publicID", ids.pick(arrival))
    _quantity(pick, "time", iso_time(arrival.time), None)
    waveform = _sub(pick, "waveformID")
    waveform.set("networkCode", NETWORK_CODE)
    waveform.set("stationCode", station_code(arrival.station))
    waveform.text = ids.cell(arrival.station)
    _sub(pick, "phaseHint", arrival.phase)
    _sub(pick, "evaluationMode", "automatic")
    _creation(pick, agency, arrival.time)


def _origin(
    parent: ET.Element,
    ids: _Ids,
    agency: str,
    event: PublishedEvent,
    origin: Origin,
    arrivals: Sequence[Arrival],
    status: str,
) -> None:
    element = _sub(parent, "origin")
    element.set("publicID", ids.origin(event.public_id, origin.version))
    _quantity(element, "time", iso_time(origin.origin_time), origin.origin_time_uncertainty_s)
    h_km = origin.horizontal_uncertainty_km
    lat_unc = None if h_km is None else h_km / KM_PER_DEG
    cos_lat = max(math.cos(math.radians(origin.lat_deg)), 1e-6)
    lon_unc = None if h_km is None else h_km / (KM_PER_DEG * cos_lat)
    _quantity(element, "latitude", _num(origin.lat_deg), lat_unc)
    _quantity(element, "longitude", _num(origin.lon_deg), lon_unc)
    depth_unc = origin.depth_uncertainty_km
    _quantity(
        element,
        "depth",
        _num(origin.depth_km * M_PER_KM),
        None if depth_unc is None else depth_unc * M_PER_KM,
    )
    _sub(element, "methodID", ids.method(origin.method))
    quality = _sub(element, "quality")
    _sub(quality, "associatedPhaseCount", str(origin.n_triggers))
    _sub(quality, "usedPhaseCount", str(origin.n_triggers))
    _sub(quality, "associatedStationCount", str(origin.n_triggers))
    _sub(quality, "usedStationCount", str(origin.n_triggers))
    if arrivals:
        _sub(quality, "minimumDistance", _num(min(a.distance_deg for a in arrivals)))
        _sub(quality, "maximumDistance", _num(max(a.distance_deg for a in arrivals)))
    _sub(element, "type", "hypocenter")
    _sub(element, "evaluationMode", event.evaluation_mode)
    _sub(element, "evaluationStatus", status)
    if h_km is not None:
        uncertainty = _sub(element, "originUncertainty")
        _sub(uncertainty, "horizontalUncertainty", _num(h_km * M_PER_KM))
        _sub(uncertainty, "preferredDescription", "horizontal uncertainty")
    _creation(element, agency, origin.created_at, str(origin.version))
    for arrival in arrivals:
        a = _sub(element, "arrival")
        a.set("publicID", ids.arrival(event.public_id, origin.version, arrival))
        _sub(a, "pickID", ids.pick(arrival))
        _sub(a, "phase", arrival.phase)
        _sub(a, "azimuth", _num(arrival.azimuth_deg))
        _sub(a, "distance", _num(arrival.distance_deg))
        _sub(a, "timeResidual", _num(arrival.residual_s))


def _magnitude(
    parent: ET.Element, ids: _Ids, agency: str, event: PublishedEvent, origin: Origin, status: str
) -> None:
    assert origin.magnitude is not None
    element = _sub(parent, "magnitude")
    element.set("publicID", ids.magnitude(event.public_id, origin.version))
    _quantity(element, "mag", _num(origin.magnitude), origin.magnitude_uncertainty)
    _sub(element, "type", MAGNITUDE_TYPE)
    _sub(element, "originID", ids.origin(event.public_id, origin.version))
    _sub(element, "methodID", ids.method(origin.method))
    _sub(element, "stationCount", str(origin.n_triggers))
    _sub(element, "evaluationMode", event.evaluation_mode)
    _sub(element, "evaluationStatus", status)
    _creation(element, agency, origin.created_at, str(origin.version))


def _event(
    parent: ET.Element,
    ids: _Ids,
    agency: str,
    event: PublishedEvent,
    *,
    all_origins: bool,
    all_magnitudes: bool,
) -> None:
    element = _sub(parent, "event")
    element.set("publicID", ids.event(event.public_id))
    preferred = event.preferred
    _sub(element, "preferredOriginID", ids.origin(event.public_id, preferred.version))
    if preferred.magnitude is not None:
        _sub(element, "preferredMagnitudeID", ids.magnitude(event.public_id, preferred.version))
    _sub(element, "type", "not existing" if event.evaluation_status == "rejected" else "earthquake")
    _sub(element, "typeCertainty", "known" if event.status == "confirmed" else "suspected")
    description = _sub(element, "description")
    _sub(description, "text", place_name(preferred.lat_deg, preferred.lon_deg))
    _sub(description, "type", "region name")
    _creation(element, agency, event.created_at)
    for arrival in event.arrivals:
        _pick(element, ids, agency, arrival)
    revisions = event.origins or (preferred,)
    origins = revisions if all_origins else (preferred,)
    status = event.evaluation_status
    for origin in origins:
        # Superseded revisions stay preliminary; the event's status is its current estimate's.
        origin_status = status if origin.version == preferred.version else "preliminary"
        if origin_status == "preliminary" and status == "rejected":
            origin_status = "rejected"
        arrivals = event.arrivals if origin.version == preferred.version else ()
        _origin(element, ids, agency, event, origin, arrivals, origin_status)
    magnitudes = revisions if all_magnitudes else origins
    for origin in magnitudes:
        if origin.magnitude is None:
            continue
        origin_status = status if origin.version == preferred.version else "preliminary"
        _magnitude(element, ids, agency, event, origin, origin_status)


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
    root = ET.Element(f"{{{Q_NS}}}quakeml")
    parameters = ET.SubElement(root, f"{{{BED_NS}}}eventParameters")
    parameters.set("publicID", f"smi:{authority}/catalog/{catalog_id}")
    ids = _Ids(authority)
    for event in events:
        _event(
            parameters, ids, agency, event, all_origins=all_origins, all_magnitudes=all_magnitudes
        )
    ET.register_namespace("q", Q_NS)
    ET.register_namespace("", BED_NS)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml
