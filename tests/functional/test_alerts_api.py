"""Alert delivery through the Flask test client: polling, the SSE stream, CAP 1.2, errors.

Rows (events, revisions, alerts) are written straight into the per-test session; devices are
registered and placed through the public API, so their cell is the one the service stores.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.api import alerts as alerts_api
from crowdquake.api import stream_tickets
from crowdquake.storage.models import DeviceState, Event, EventRevision
from tests.factories import add_alert

PROBLEM = "application/problem+json"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
SF = (37.7749, -122.4194)
LA = (34.0522, -118.2437)


@pytest.fixture
def alert_client(app: Flask, client: FlaskClient) -> FlaskClient:
    # The lead registers the blueprint in create_app; until then the tests register it.
    if alerts_api.bp.name not in app.blueprints:
        app.register_blueprint(alerts_api.bp)
    return client


@pytest.fixture
def placed_device(
    alert_client: FlaskClient, register: Callable[[], dict[str, str]], session: Session
) -> Callable[[tuple[float, float]], tuple[dict[str, str], str]]:
    """Register a device, send a heartbeat from ``where``; returns (auth header, stored cell)."""

    def _place(where: tuple[float, float]) -> tuple[dict[str, str], str]:
        device = register()
        heartbeat = {
            "latitude": where[0],
            "longitude": where[1],
            "accuracy_m": 10.0,
            "steady": True,
            "charging": True,
            "app_version": "1.0.0",
            "model_version": "cq-edge-1",
        }
        headers = {"Authorization": device["Authorization"]}
        assert alert_client.post("/api/v1/heartbeats", json=heartbeat, headers=headers).status_code
        cell = session.scalar(
            select(DeviceState.cell).where(DeviceState.device_id == uuid.UUID(device["device_id"]))
        )
        assert cell is not None
        return headers, cell

    return _place


class Quake:
    """An event with revisions and alerts written directly to the database."""

    def __init__(self, session: Session, now: datetime, status: str = "candidate") -> None:
        self.session = session
        self.now = now
        self.event = Event(
            id=uuid.uuid4(),
            public_id=f"cq{uuid.uuid4().hex[:10]}",
            status=status,
            region_key="822837fffffffff",
            created_at=now,
            updated_at=now,
        )
        session.add(self.event)
        session.flush()

    def revision(self, version: int, magnitude: float | None, depth_km: float = 8.0) -> None:
        self.session.add(
            EventRevision(
                event_id=self.event.id,
                version=version,
                origin_time=self.now - timedelta(seconds=10),
                lat_deg=37.70,
                lon_deg=-122.50,
                depth_km=depth_km,
                magnitude=magnitude,
                n_triggers=12 * version,
                n_active=200,
                method="test",
                created_at=self.now,
            )
        )
        self.session.flush()

    def alert(
        self,
        version: int,
        cells: list[tuple[str, float, float]],
        level: str = "take_action",
        issued_ago_s: float = 0.0,
    ) -> int:
        """``cells``: (H3 cell, predicted MMI, S arrival in seconds after ``now``)."""
        return add_alert(
            self.session,
            self.event,
            self.now,
            cells,
            level=level,
            revision=version,
            issued_ago_s=issued_ago_s,
        ).id


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.json  # type: ignore[no-any-return]


def poll(client: FlaskClient, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/alerts{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json  # type: ignore[no-any-return]


def test_device_in_alert_gets_it_and_device_outside_gets_nothing(
    alert_client: FlaskClient, placed_device: Any, session: Session, now: datetime
) -> None:
    inside, cell = placed_device(SF)
    outside, _ = placed_device(LA)
    quake = Quake(session, now)
    quake.revision(1, 5.8, depth_km=9.5)
    # A coarser alert cell (resolution 6) that contains the device's resolution-7 cell.
    alert_id = quake.alert(1, [(h3.cell_to_parent(cell, 6), 6.2, 12.5)])

    body = poll(alert_client, inside)
    assert body["cursor"] == alert_id
    (got,) = body["alerts"]
    assert got["id"] == alert_id and got["event_id"] == quake.event.public_id
    assert got["level"] == "take_action" and got["revision"] == 1
    assert got["magnitude"] == 5.8 and got["depth_km"] == 9.5
    assert (got["latitude"], got["longitude"]) == (37.70, -122.50)
    assert got["predicted_mmi"] == 6.2
    assert got["warning_time_s"] == pytest.approx(12.5)
    assert datetime.fromisoformat(got["s_arrival_time"]) == now + timedelta(seconds=12.5)
    assert datetime.fromisoformat(got["origin_time"]) == now - timedelta(seconds=10)

    far = poll(alert_client, outside)
    assert far["alerts"] == []
    # The cursor still moves past the examined alert, so it is not examined again.
    assert far["cursor"] == alert_id


def test_finer_alert_cells_give_strongest_mmi_and_earliest_arrival(
    alert_client: FlaskClient, placed_device: Any, session: Session, now: datetime
) -> None:
    device, cell = placed_device(SF)
    children = sorted(h3.cell_to_children(cell, 8))
    quake = Quake(session, now)
    quake.revision(1, 4.6)
    quake.alert(
        1,
        # Strongest first, earliest second: the answer mixes the two cells on purpose.
        [(children[0], 4.1, 9.0), (children[1], 3.4, 7.5), ("8729a1d75ffffff", 8.0, 1.0)],
        level="be_aware",
    )
    (got,) = poll(alert_client, device)["alerts"]
    assert got["level"] == "be_aware"
    assert got["predicted_mmi"] == 4.1 and got["warning_time_s"] == pytest.approx(7.5)


def test_cursor_revisions_window_and_withdrawn_events(
    alert_client: FlaskClient, placed_device: Any, session: Session, now: datetime
) -> None:
    device, cell = placed_device(SF)
    old = Quake(session, now)
    old.revision(1, 4.0)
    stale_id = old.alert(1, [(cell, 4.0, -1200.0)], level="be_aware", issued_ago_s=1200.0)

    quake = Quake(session, now)
    quake.revision(1, 5.0)
    quake.revision(2, 5.6)
    first = quake.alert(1, [(cell, 5.0, 4.0)])
    second = quake.alert(2, [(cell, 5.9, 4.0)])

    cancelled = Quake(session, now, status="cancelled")
    cancelled.revision(1, 6.0)
    withdrawn = cancelled.alert(1, [(cell, 7.0, 3.0)])

    # No cursor: the last 10 minutes only; each alert carries the numbers of its own revision.
    body = poll(alert_client, device)
    assert [(a["id"], a["revision"], a["magnitude"]) for a in body["alerts"]] == [
        (first, 1, 5.0),
        (second, 2, 5.6),
    ]
    assert body["cursor"] == withdrawn  # examined, never delivered
    # An explicit cursor reaches back up to an hour.
    assert [a["id"] for a in poll(alert_client, device, "?since=0")["alerts"]] == [
        stale_id,
        first,
        second,
    ]
    after_first = poll(alert_client, device, f"?since={first}")
    assert [a["id"] for a in after_first["alerts"]] == [second]
    empty = poll(alert_client, device, f"?since={withdrawn}")
    assert empty == {"alerts": [], "cursor": withdrawn}


def test_device_without_heartbeat_gets_nothing(
    alert_client: FlaskClient,
    register: Callable[[], dict[str, str]],
    session: Session,
    now: datetime,
) -> None:
    device = register()
    quake = Quake(session, now)
    quake.revision(1, 5.0)
    quake.alert(1, [(h3.latlng_to_cell(*SF, 7), 5.0, 4.0)])
    assert poll(alert_client, {"Authorization": device["Authorization"]})["alerts"] == []


def test_stream_redirects_to_the_stream_server_with_a_ticket(
    alert_client: FlaskClient, placed_device: Any, app: Flask
) -> None:
    """The API authenticates and validates; the stream itself is the stream server's
    (tests/functional/test_alert_streams.py)."""
    device, _ = placed_device(SF)
    response = alert_client.get(
        "/api/v1/alerts/stream?max_s=30&since=3",
        headers={**device, "Last-Event-ID": "7"},
        base_url="http://localhost:8000",
    )
    assert response.status_code == 307
    assert response.headers["Cache-Control"] == "no-store"
    location = urlsplit(response.headers["Location"])
    # Default CROWDQUAKE_STREAM_BIND: the port after the API's.
    assert (location.hostname, location.port) == ("localhost", 8001)
    assert location.path == "/api/v1/alerts/stream"
    query = parse_qs(location.query)
    assert query["since"] == ["7"]  # Last-Event-ID wins over since
    assert query["max_s"] == ["30.0"]
    device_id = stream_tickets.verify(app.config["SECRET_KEY"], query["ticket"][0])
    assert device_id == uuid.UUID(device["Authorization"].split()[1].split(".")[0])


CAP_ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "scope"]
CAP_INFO_ORDER = [
    "language",
    "category",
    "event",
    "responseType",
    "urgency",
    "severity",
    "certainty",
    "onset",
    "expires",
    "senderName",
    "headline",
    "description",
    "instruction",
    "parameter",
    "area",
]
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def tags(element: ET.Element) -> list[str]:
    names = [child.tag.removeprefix(CAP) for child in element]
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]  # collapse repeats


def test_cap_for_first_and_second_revision(
    alert_client: FlaskClient, session: Session, now: datetime
) -> None:
    cell = h3.latlng_to_cell(*SF, 7)
    ring = sorted(h3.grid_disk(cell, 1))
    quake = Quake(session, now, status="confirmed")
    quake.revision(1, 5.1)
    quake.revision(2, 5.7)
    first = quake.alert(1, [(c, 5.5, 5.0) for c in ring])
    second = quake.alert(2, [(c, 6.0, 5.0) for c in ring], level="be_aware")

    one = alert_client.get(f"/api/v1/alerts/{first}.cap")  # public: no token
    assert one.status_code == 200 and one.mimetype == "application/cap+xml"
    root = ET.fromstring(one.data)
    assert root.tag == f"{CAP}alert"
    assert tags(root) == [*CAP_ALERT_ORDER, "info"]
    assert root.findtext(f"{CAP}msgType") == "Alert"
    assert root.findtext(f"{CAP}status") == "Actual" and root.findtext(f"{CAP}scope") == "Public"
    assert CAP_TIME.match(root.findtext(f"{CAP}sent") or "")
    info = root.find(f"{CAP}info")
    assert info is not None and tags(info) == CAP_INFO_ORDER
    assert info.findtext(f"{CAP}severity") == "Severe"
    assert info.findtext(f"{CAP}certainty") == "Observed"
    assert info.findtext(f"{CAP}urgency") == "Immediate"
    assert "M5.1" in (info.findtext(f"{CAP}headline") or "")
    params = {
        p.findtext(f"{CAP}valueName"): p.findtext(f"{CAP}value")
        for p in info.iter(f"{CAP}parameter")
    }
    assert params["Magnitude"] == "5.1" and params["DepthKm"] == "8.0"
    assert CAP_TIME.match(params["OriginTime"] or "")
    area = info.find(f"{CAP}area")
    assert area is not None and tags(area) == ["areaDesc", "circle", "geocode"]
    geocodes = sorted(g.findtext(f"{CAP}value") or "" for g in area.iter(f"{CAP}geocode"))
    assert geocodes == ring
    assert {g.findtext(f"{CAP}valueName") for g in area.iter(f"{CAP}geocode")} == {"H3"}

    # A be_aware message starts its own chain: it never supersedes the take_action one ...
    two = ET.fromstring(alert_client.get(f"/api/v1/alerts/{second}.cap").data)
    assert tags(two) == [*CAP_ALERT_ORDER, "info"]
    assert two.findtext(f"{CAP}msgType") == "Alert"
    identifier_one = root.findtext(f"{CAP}identifier")
    assert two.findtext(f"{CAP}identifier") != identifier_one
    # ... and take_action, gone from revision 2, is cancelled by its own Cancel.
    cancel = ET.fromstring(alert_client.get(f"/api/v1/alerts/{first}/cancel.cap").data)
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    sender = cancel.findtext(f"{CAP}sender")
    sent_one = root.findtext(f"{CAP}sent")
    assert cancel.findtext(f"{CAP}references") == f"{sender},{identifier_one},{sent_one}"
    assert two.findtext(f"{CAP}info/{CAP}severity") == "Moderate"
    assert "M5.7" in (two.findtext(f"{CAP}info/{CAP}headline") or "")


def test_errors(
    alert_client: FlaskClient, placed_device: Any, session: Session, now: datetime
) -> None:
    assert_problem(alert_client.get("/api/v1/alerts"), 401)
    assert_problem(alert_client.get("/api/v1/alerts/stream"), 401)
    assert_problem(
        alert_client.get("/api/v1/alerts", headers={"Authorization": "Bearer nonsense"}), 401
    )
    device, _ = placed_device(SF)
    for query in ("?since=abc", "?since=-1", "?since=1.5", f"?since={2**64}"):
        problem = assert_problem(alert_client.get(f"/api/v1/alerts{query}", headers=device), 422)
        assert [e["field"] for e in problem["errors"]] == ["since"]
    for query in ("?max_s=0", "?max_s=3601", "?max_s=nan", "?since=x"):
        assert_problem(alert_client.get(f"/api/v1/alerts/stream{query}", headers=device), 422)
    bad_header = {**device, "Last-Event-ID": "yesterday"}
    problem = assert_problem(alert_client.get("/api/v1/alerts/stream", headers=bad_header), 422)
    assert problem["errors"][0]["field"] == "Last-Event-ID"

    assert_problem(alert_client.get("/api/v1/alerts/999999.cap"), 404)
    assert_problem(alert_client.get(f"/api/v1/alerts/{2**70}.cap"), 404)
    assert_problem(alert_client.get("/api/v1/alerts/abc.cap"), 404)
    withdrawn = Quake(session, now, status="rejected")
    withdrawn.revision(1, 5.0)
    alert_id = withdrawn.alert(1, [(h3.latlng_to_cell(*SF, 7), 5.0, 4.0)])
    # The message of a withdrawn event stays readable (its Cancel references it).
    assert alert_client.get(f"/api/v1/alerts/{alert_id}.cap").status_code == 200
    assert alert_client.get(f"/api/v1/alerts/{alert_id}/cancel.cap").status_code == 200
    assert_problem(alert_client.get("/api/v1/alerts/999999/cancel.cap"), 404)
