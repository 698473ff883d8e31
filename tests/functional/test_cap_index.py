"""The Atom index of CAP messages in force, a rejected event's Cancel messages, and every CAP
document the server serves validating against the OASIS CAP 1.2 XSD."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import h3
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy.orm import Session

from tests.functional.test_alerts_api import SF, Quake

ATOM = "{http://www.w3.org/2005/Atom}"
XSD = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd")))


def entries(client: FlaskClient) -> list[dict[str, str]]:
    response = client.get("/api/v1/alerts/cap.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):  # RFC 4287 section 4.1.1
        assert feed.find(f"{ATOM}{required}") is not None, required
    out = []
    for entry in feed.iter(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link")
        category = entry.find(f"{ATOM}category")
        assert link is not None and category is not None
        assert link.get("type") == "application/cap+xml"
        for required in ("id", "title", "updated"):
            assert entry.findtext(f"{ATOM}{required}"), required
        out.append({"href": link.get("href") or "", "type": category.get("term") or ""})
    return out


def fetch_valid(client: FlaskClient, href: str) -> ET.Element:
    response = client.get(href.removeprefix("http://localhost"))
    assert response.status_code == 200 and response.mimetype == "application/cap+xml", href
    assert XSD.validate(etree.fromstring(response.data)), XSD.error_log
    return ET.fromstring(response.data)


def test_index_lists_the_latest_message_of_each_chain_and_cancels(
    client: FlaskClient, session: Session, now: datetime
) -> None:
    ring = sorted(h3.grid_disk(h3.latlng_to_cell(*SF, 7), 1))
    quake = Quake(session, now, status="confirmed")
    quake.revision(1, 5.6)
    quake.revision(2, 5.9)
    first = quake.alert(1, [(c, 6.0, 5.0) for c in ring], issued_ago_s=20)
    quake.alert(1, [(c, 4.0, 9.0) for c in ring], level="be_aware", issued_ago_s=20)
    second = quake.alert(2, [(c, 6.5, 5.0) for c in ring], issued_ago_s=10)
    aware = quake.alert(2, [(c, 4.5, 9.0) for c in ring], level="be_aware", issued_ago_s=10)
    old = Quake(session, now, status="confirmed")  # expired: issued two hours ago
    old.revision(1, 5.0)
    old.alert(1, [(ring[0], 5.5, 3.0)], issued_ago_s=7200)
    session.commit()

    listed = entries(client)
    assert [e["type"] for e in listed] == ["Update", "Update"]
    hrefs = sorted(e["href"].rsplit("/", 1)[-1] for e in listed)
    assert hrefs == sorted([f"{second}.cap", f"{aware}.cap"])
    update = fetch_valid(client, listed[0]["href"])
    assert update.findtext("{urn:oasis:names:tc:emergency:cap:1.2}msgType") == "Update"

    # An operator rejects the event: both chains end with a Cancel, listed in the index.
    quake.event.status = "rejected"
    quake.event.updated_at = now
    session.commit()
    listed = entries(client)
    assert [e["type"] for e in listed] == ["Cancel", "Cancel"]
    for entry in listed:
        cancel = fetch_valid(client, entry["href"])
        references = cancel.findtext("{urn:oasis:names:tc:emergency:cap:1.2}references") or ""
        assert len(references.split()) == 2  # the Alert and the Update of its own chain
    assert any(e["href"].endswith(f"/{first}/cancel.cap") for e in listed)
    # Every message of the event still validates, the original Alert included.
    fetch_valid(client, f"/api/v1/alerts/{first}.cap")
