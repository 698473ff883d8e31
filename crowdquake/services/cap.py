"""CAP 1.2 messages of issued alerts (OASIS Common Alerting Protocol Version 1.2, 2010).

**Message chains.** The alerts of one event form one chain per level (``take_action``,
``be_aware``): the first alert of a level is an ``Alert``; each later alert of that level is an
``Update`` whose ``references`` list the earlier messages of the *same* chain only (a "be aware"
message never supersedes a "take action" one). A chain ends with a ``Cancel`` (referencing every
message of the chain) when a later revision alerts without that level (the level dropped), or
when the event is rejected or cancelled (sent at the event's ``updated_at``). A level that comes
back later starts a new chain. ``Cancel`` messages have no ``info`` block (CAP 1.2 allows none)
and say why in ``note``.

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
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import h3
from sqlalchemy.orm import Session

from crowdquake.domain.geodesy import haversine_scalar_km
from crowdquake.services.alerts import IssuedAlert, get_issued_alert
from crowdquake.services.errors import NotFound
from crowdquake.storage import catalog
from crowdquake.storage.catalog import WITHDRAWN_STATUSES, AlertedEvent, AlertRow

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


def cancel_identifier(chain_id: int) -> str:
    """The Cancel of the chain whose first message is alert ``chain_id``."""
    return f"{IDENTIFIER_PREFIX}{chain_id}-cancel"


MsgType = Literal["Alert", "Update", "Cancel"]
LEVEL_ORDER = ("take_action", "be_aware")


@dataclass(frozen=True, slots=True)
class CapMessage:
    """One CAP message of an event: an issued alert (Alert/Update) or the end of a chain."""

    msg_type: MsgType
    identifier: str
    sent: datetime
    level: str
    chain_id: int  # alert id of the chain's first message
    alert_id: int | None  # None for a Cancel
    event_id: uuid.UUID
    event_public_id: str
    references: tuple[tuple[str, datetime], ...] = ()  # (identifier, sent), oldest first
    note: str | None = None


def _cancel(chain: list[CapMessage], sent: datetime, note: str) -> CapMessage:
    first = chain[0]
    return CapMessage(
        msg_type="Cancel",
        identifier=cancel_identifier(first.chain_id),
        sent=max(sent, chain[-1].sent),
        level=first.level,
        chain_id=first.chain_id,
        alert_id=None,
        event_id=first.event_id,
        event_public_id=first.event_public_id,
        references=tuple((m.identifier, m.sent) for m in chain),
        note=note,
    )


def chain_messages(event: AlertedEvent) -> list[CapMessage]:
    """Every CAP message of an event, in the order they were (or are deemed) sent."""
    by_revision: dict[int, list[AlertRow]] = {}
    for row in sorted(event.alerts, key=lambda r: (r.revision, r.alert_id)):
        by_revision.setdefault(row.revision, []).append(row)
    active: dict[str, list[CapMessage]] = {}
    out: list[CapMessage] = []
    for revision, rows in by_revision.items():
        levels = {r.level for r in rows}
        sent = min(r.issued_at for r in rows)
        for level in [lv for lv in LEVEL_ORDER if lv in active and lv not in levels]:
            note = (
                f"Revision {revision} of earthquake {event.public_id} no longer expects "
                f"{level.replace('_', ' ')} shaking; this cancels the earlier messages."
            )
            out.append(_cancel(active.pop(level), sent, note))
        for row in sorted(rows, key=lambda r: LEVEL_ORDER.index(r.level)):
            chain = active.get(row.level)
            message = CapMessage(
                msg_type="Alert" if chain is None else "Update",
                identifier=cap_identifier(row.alert_id),
                sent=row.issued_at,
                level=row.level,
                chain_id=row.alert_id if chain is None else chain[0].chain_id,
                alert_id=row.alert_id,
                event_id=event.event_id,
                event_public_id=event.public_id,
                references=() if chain is None else tuple((m.identifier, m.sent) for m in chain),
            )
            active.setdefault(row.level, []).append(message)
            out.append(message)
    if event.status in WITHDRAWN_STATUSES:
        for level in [lv for lv in LEVEL_ORDER if lv in active]:
            note = (
                f"Earthquake {event.public_id} was {event.status}: "
                "the earlier messages are withdrawn."
            )
            out.append(_cancel(active.pop(level), event.updated_at, note))
    return out


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


def _header(root: ET.Element, message: CapMessage, sender: str) -> None:
    _sub(root, "identifier", message.identifier)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(message.sent))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", message.msg_type)
    _sub(root, "scope", "Public")
    if message.note is not None:
        _sub(root, "note", message.note)
    if message.references:
        triples = (f"{sender},{ident},{cap_time(sent)}" for ident, sent in message.references)
        _sub(root, "references", " ".join(triples))


def _to_bytes(root: ET.Element) -> bytes:
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return xml


def render_cancel(message: CapMessage, *, sender: str = DEFAULT_SENDER) -> bytes:
    """The CAP 1.2 Cancel message of a chain: header, ``note`` and ``references``, no info."""
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _header(root, message, sender)
    return _to_bytes(root)


def render_cap(
    alert: IssuedAlert,
    *,
    sender: str = DEFAULT_SENDER,
    message: CapMessage | None = None,
    expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
) -> bytes:
    """The CAP 1.2 message of ``alert`` as UTF-8 XML.

    ``message`` says whether it is an Alert or an Update and what it references (see
    :func:`chain_messages`); without it the alert is rendered as the first of its chain.
    Certainty is "Observed" once the event is confirmed, "Likely" while it is a candidate.
    """
    if message is None:
        message = CapMessage(
            msg_type="Alert",
            identifier=cap_identifier(alert.alert_id),
            sent=alert.issued_at,
            level=alert.level,
            chain_id=alert.alert_id,
            alert_id=alert.alert_id,
            event_id=alert.event_id,
            event_public_id=alert.event_public_id,
        )
    cells = [str(c["cell"]) for c in alert.cells if h3.is_valid_cell(str(c.get("cell", "")))]
    mmis = [float(c["predicted_mmi"]) for c in alert.cells if "predicted_mmi" in c]
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _header(root, message, sender)

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
    return _to_bytes(root)


# --- Use cases: a message by id, the current messages, the Atom index ----------------------------

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MIME = "application/atom+xml"


def _event_messages(session: Session, event_id: uuid.UUID) -> list[CapMessage]:
    events = catalog.alerted_events(session, event_id=event_id)
    return chain_messages(events[0]) if events else []


def alert_message(session: Session, alert_id: int, *, sender: str) -> bytes:
    """The CAP message of an issued alert (also once its event was withdrawn: the Cancel
    references it)."""
    event_id = catalog.event_of_alert(session, alert_id)
    if event_id is None:
        raise NotFound(f"no alert {alert_id}")
    alert = get_issued_alert(session, alert_id, include_withdrawn=True)
    message = next(m for m in _event_messages(session, event_id) if m.alert_id == alert_id)
    return render_cap(alert, sender=sender, message=message)


def cancel_message(session: Session, chain_id: int, *, sender: str) -> bytes:
    """The Cancel that ended the chain started by alert ``chain_id``; NotFound while none."""
    event_id = catalog.event_of_alert(session, chain_id)
    if event_id is not None:
        for message in _event_messages(session, event_id):
            if message.msg_type == "Cancel" and message.chain_id == chain_id:
                return render_cancel(message, sender=sender)
    raise NotFound(f"no Cancel for the alert chain starting at {chain_id}")


def current_messages(
    session: Session, *, now: datetime, expires_after_s: float = DEFAULT_EXPIRES_AFTER_S
) -> list[CapMessage]:
    """The latest message of every chain that is still in force (sent within the expiry of
    CAP messages), Cancels included: what an aggregator polling the index must know. Newest
    first."""
    since = now - timedelta(seconds=expires_after_s)
    events = catalog.alerted_events(session, issued_since=since, withdrawn_since=since)
    latest: dict[int, CapMessage] = {}
    for event in events:
        for message in chain_messages(event):
            latest[message.chain_id] = message
    current = [m for m in latest.values() if m.sent >= since]
    return sorted(current, key=lambda m: (m.sent, m.identifier), reverse=True)


def _atom(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)  # in the namespace declared on <feed>
    if text is not None:
        element.text = text
    return element


def atom_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_atom(
    session: Session,
    messages: Sequence[CapMessage],
    *,
    feed_url: str,
    message_url: str,
    cancel_url: str,
    now: datetime,
    sender: str,
) -> bytes:
    """Atom 1.0 (RFC 4287) index of ``messages``; each entry links its CAP document.
    ``message_url`` and ``cancel_url`` are templates with ``{id}`` (alert id / chain id)."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _atom(feed, "id", feed_url)
    _atom(feed, "title", "crowdquake earthquake alerts (CAP 1.2)")
    _atom(feed, "updated", atom_time(max((m.sent for m in messages), default=now)))
    author = _atom(feed, "author")
    _atom(author, "name", sender)
    self_link = _atom(feed, "link")
    self_link.set("rel", "self")
    self_link.set("href", feed_url)
    for message in messages:
        if message.alert_id is not None:
            url = message_url.format(id=message.alert_id)
            alert = get_issued_alert(session, message.alert_id, include_withdrawn=True)
            title = f"{message.msg_type}: {_headline(alert)} ({message.level.replace('_', ' ')})"
            summary = INSTRUCTION[message.level]
        else:
            url = cancel_url.format(id=message.chain_id)
            title = (
                f"Cancel: {message.level.replace('_', ' ')} alert of earthquake "
                f"{message.event_public_id}"
            )
            summary = message.note or "Cancelled"
        entry = _atom(feed, "entry")
        _atom(entry, "id", url)
        _atom(entry, "title", title)
        _atom(entry, "updated", atom_time(message.sent))
        link = _atom(entry, "link")
        link.set("rel", "alternate")
        link.set("type", CAP_MIME)
        link.set("href", url)
        category = _atom(entry, "category")
        category.set("term", message.msg_type)
        _atom(entry, "summary", summary)
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return xml
