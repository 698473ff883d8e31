"""CAP 1.2 rendering of an issued alert (OASIS Common Alerting Protocol Version 1.2, 2010).

Element order follows the CAP 1.2 XML schema (section 3.4 / the normative XSD): ``alert`` =
identifier, sender, sent, status, msgType, scope, references?, info; ``info`` = language,
category, event, responseType, urgency, severity, certainty, onset, expires, senderName,
headline, description, instruction, parameter*, area; ``area`` = areaDesc, circle, geocode*.
Times use the CAP form ``YYYY-MM-DDThh:mm:ss-00:00`` (section 3.3.2: no "Z", UTC as -00:00, no
fractional seconds). The area is one ``geocode`` per H3 cell (valueName "H3") plus a ``circle``
(centre "lat,lon", radius km) around the epicentre that encloses every alert cell.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import h3

from crowdquake.domain.geodesy import haversine_scalar_km
from crowdquake.services.alerts import IssuedAlert

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MIME = "application/cap+xml"
DEFAULT_SENDER = "crowdquake@localhost"
IDENTIFIER_PREFIX = "crowdquake-alert-"
DEFAULT_EXPIRES_AFTER_S = 3600.0

SEVERITY = {"take_action": "Severe", "be_aware": "Moderate"}
# CAP responseType: what people should do. Drop, cover and hold on is sheltering in place.
RESPONSE = {"take_action": "Shelter", "be_aware": "Monitor"}
INSTRUCTION = {
    "take_action": "Drop, cover and hold on. Strong shaking is expected within seconds.",
    "be_aware": "Light shaking is possible. Stay calm and be ready to protect yourself.",
}


def cap_time(value: datetime) -> str:
    """CAP 1.2 date-time: whole seconds, UTC written as -00:00.

    >>> cap_time(datetime(2026, 11, 25, 12, 0, 1, 900_000, tzinfo=UTC))
    '2026-11-25T12:00:01-00:00'
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def cap_identifier(alert_id: int) -> str:
    return f"{IDENTIFIER_PREFIX}{alert_id}"


def place_text(lat_deg: float, lon_deg: float) -> str:
    """Epicentre as text.

    >>> place_text(37.87, -122.26)
    '37.870°N 122.260°W'
    """
    ns = "N" if lat_deg >= 0 else "S"
    ew = "E" if lon_deg >= 0 else "W"
    return f"{abs(lat_deg):.3f}°{ns} {abs(lon_deg):.3f}°{ew}"


def enclosing_radius_km(lat_deg: float, lon_deg: float, cells: Sequence[str]) -> float:
    """Great-circle distance from the epicentre to the farthest vertex of any cell, km,
    rounded up to 0.1 km (a hexagon lies within its vertices' distances, the edges being
    short arcs)."""
    far_km = 0.0
    for cell in cells:
        for vlat, vlon in h3.cell_to_boundary(cell):
            far_km = max(far_km, haversine_scalar_km(lat_deg, lon_deg, vlat, vlon))
    return math.ceil(far_km * 10.0) / 10.0


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _parameter(info: ET.Element, name: str, value: str) -> None:
    parameter = _sub(info, "parameter")
    _sub(parameter, "valueName", name)
    _sub(parameter, "value", value)


def _headline(alert: IssuedAlert) -> str:
    size = f"M{alert.magnitude:.1f} earthquake" if alert.magnitude is not None else "Earthquake"
    return f"{size} at {place_text(alert.lat_deg, alert.lon_deg)}"


def _description(alert: IssuedAlert, cells: Sequence[str], mmis: Sequence[float]) -> str:
    size = (
        f"of magnitude {alert.magnitude:.1f} "
        if alert.magnitude is not None
        else "of unknown magnitude "
    )
    text = (
        f"An earthquake {size}occurred at {alert.origin_time.astimezone(UTC):%H:%M:%S} UTC, "
        f"{place_text(alert.lat_deg, alert.lon_deg)}, depth {alert.depth_km:.0f} km "
        f"(estimate revision {alert.revision}, event {alert.event_public_id})."
    )
    if mmis:
        text += (
            f" Predicted intensity in the alert area: MMI {min(mmis):.1f} to {max(mmis):.1f}"
            f" over {len(cells)} cells."
        )
    return text


def render_cap(
    alert: IssuedAlert,
    *,
    sender: str = DEFAULT_SENDER,
    references: Sequence[tuple[int, datetime]] = (),
    expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
) -> bytes:
    """The CAP 1.2 message of ``alert`` as UTF-8 XML.

    ``references`` are (alert id, issued_at) of earlier alerts of the same event, listed in
    ``references`` as ``sender,identifier,sent`` triples (CAP 1.2 section 3.2.1). The message is
    an "Update" when the alert is for a revision after the first, and an "Alert" otherwise.
    Certainty is "Observed" once the event is confirmed, "Likely" while it is a candidate.
    """
    cells = [str(c["cell"]) for c in alert.cells if h3.is_valid_cell(str(c.get("cell", "")))]
    mmis = [float(c["predicted_mmi"]) for c in alert.cells if "predicted_mmi" in c]
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", cap_identifier(alert.alert_id))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(alert.issued_at))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Update" if alert.revision > 1 else "Alert")
    _sub(root, "scope", "Public")
    if alert.revision > 1 and references:
        triples = (f"{sender},{cap_identifier(i)},{cap_time(sent)}" for i, sent in references)
        _sub(root, "references", " ".join(triples))

    info = _sub(root, "info")
    _sub(info, "language", "en-US")
    _sub(info, "category", "Geo")
    _sub(info, "event", "Earthquake")
    _sub(info, "responseType", RESPONSE[alert.level])
    _sub(info, "urgency", "Immediate")
    _sub(info, "severity", SEVERITY[alert.level])
    _sub(info, "certainty", "Observed" if alert.event_status == "confirmed" else "Likely")
    _sub(info, "onset", cap_time(alert.origin_time))
    _sub(info, "expires", cap_time(alert.issued_at + timedelta(seconds=expires_after_s)))
    _sub(info, "senderName", "crowdquake earthquake early warning")
    _sub(info, "headline", _headline(alert))
    _sub(info, "description", _description(alert, cells, mmis))
    _sub(info, "instruction", INSTRUCTION[alert.level])
    _parameter(info, "EventID", alert.event_public_id)
    _parameter(info, "EventRevision", str(alert.revision))
    if alert.magnitude is not None:
        _parameter(info, "Magnitude", f"{alert.magnitude:.1f}")
        _parameter(info, "MagnitudeType", "Mw")
    _parameter(info, "DepthKm", f"{alert.depth_km:.1f}")
    _parameter(info, "OriginTime", cap_time(alert.origin_time))

    area = _sub(info, "area")
    _sub(area, "areaDesc", f"Alert area ({alert.level.replace('_', ' ')}), {len(cells)} H3 cells")
    radius_km = enclosing_radius_km(alert.lat_deg, alert.lon_deg, cells)
    _sub(area, "circle", f"{alert.lat_deg:.4f},{alert.lon_deg:.4f} {radius_km:.1f}")
    for cell in cells:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "H3")
        _sub(geocode, "value", cell)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return xml
