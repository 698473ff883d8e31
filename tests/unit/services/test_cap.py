"""CAP 1.2 rendering: element order of the CAP 1.2 schema, CAP time format, Update/references,
severity and certainty mapping, and an area circle that really encloses the H3 cells."""

from __future__ import annotations

import doctest
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import h3
import pytest

from crowdquake.domain.geodesy import haversine_scalar_km
from crowdquake.services import cap
from crowdquake.services.alerts import IssuedAlert

NS = "{urn:oasis:names:tc:emergency:cap:1.2}"
ISSUED = datetime(2026, 11, 25, 12, 0, 7, 250_000, tzinfo=UTC)
EPICENTRE = (37.70, -122.50)

# Child order of <alert>, <info> and <area> in the CAP 1.2 XSD (OASIS CAP-V1.2, section 3.4),
# restricted to the elements crowdquake emits.
ALERT_SEQUENCE = ["identifier", "sender", "sent", "status", "msgType", "scope", "references"]
ALERT_SEQUENCE += ["info"]
INFO_SEQUENCE = [
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
AREA_SEQUENCE = ["areaDesc", "circle", "geocode"]
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
# CAP 1.2 3.2.1: identifier and sender must not contain spaces, commas or restricted characters.
CAP_TOKEN = re.compile(r"^[^\s,<&]+$")


def make_alert(**changes: object) -> IssuedAlert:
    centre = h3.latlng_to_cell(37.80, -122.40, 7)
    cells = [
        {"cell": c, "predicted_mmi": 5.0 + i * 0.1, "s_arrival_time": ISSUED.isoformat()}
        for i, c in enumerate(sorted(h3.grid_disk(centre, 2)))
    ]
    alert = IssuedAlert(
        alert_id=41,
        event_id=uuid.uuid4(),
        event_public_id="cq2026abcd",
        event_status="candidate",
        revision=1,
        level="take_action",
        issued_at=ISSUED,
        origin_time=ISSUED - timedelta(seconds=9.5),
        lat_deg=EPICENTRE[0],
        lon_deg=EPICENTRE[1],
        depth_km=11.0,
        magnitude=6.1,
        cells=tuple(cells),
    )
    return replace(alert, **changes)  # type: ignore[arg-type]


def parse(xml: bytes) -> ET.Element:
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(xml)


def child_names(element: ET.Element) -> list[str]:
    return [child.tag.removeprefix(NS) for child in element]


def assert_in_sequence(names: list[str], sequence: list[str]) -> None:
    positions = [sequence.index(n) for n in names]  # ValueError: element not allowed here
    assert positions == sorted(positions), names


def test_doctests() -> None:
    result = doctest.testmod(cap)
    assert result.attempted > 0 and result.failed == 0


def test_first_revision_is_a_complete_alert_in_schema_order() -> None:
    root = parse(cap.render_cap(make_alert(), sender="alerts@quake.example"))
    assert root.tag == f"{NS}alert"
    names = child_names(root)
    assert_in_sequence(names, ALERT_SEQUENCE)
    assert names == ["identifier", "sender", "sent", "status", "msgType", "scope", "info"]
    assert CAP_TOKEN.match(root.findtext(f"{NS}identifier") or "")
    assert root.findtext(f"{NS}sender") == "alerts@quake.example"
    assert root.findtext(f"{NS}sent") == "2026-11-25T12:00:07-00:00"
    assert root.findtext(f"{NS}msgType") == "Alert"

    info = root.find(f"{NS}info")
    assert info is not None
    assert_in_sequence(child_names(info), INFO_SEQUENCE)
    for required in ("category", "event", "urgency", "severity", "certainty"):
        assert info.findtext(f"{NS}{required}"), required
    assert info.findtext(f"{NS}category") == "Geo"
    assert info.findtext(f"{NS}event") == "Earthquake"
    assert info.findtext(f"{NS}severity") == "Severe"
    assert info.findtext(f"{NS}certainty") == "Likely"  # a candidate, not yet confirmed
    for field in ("onset", "expires"):
        assert CAP_TIME.match(info.findtext(f"{NS}{field}") or "")
    headline = info.findtext(f"{NS}headline") or ""
    assert "M6.1" in headline and "37.700°N 122.500°W" in headline and len(headline) <= 160
    description = info.findtext(f"{NS}description") or ""
    assert "magnitude 6.1" in description and "depth 11 km" in description

    params = {
        p.findtext(f"{NS}valueName"): p.findtext(f"{NS}value") for p in info.iter(f"{NS}parameter")
    }
    assert params["Magnitude"] == "6.1"
    assert params["DepthKm"] == "11.0"
    assert params["OriginTime"] == "2026-11-25T11:59:57-00:00"
    assert params["EventID"] == "cq2026abcd"


def test_area_has_one_geocode_per_cell_and_an_enclosing_circle() -> None:
    alert = make_alert()
    area = parse(cap.render_cap(alert)).find(f"{NS}info/{NS}area")
    assert area is not None
    assert_in_sequence(child_names(area), AREA_SEQUENCE)
    geocodes = [
        (g.findtext(f"{NS}valueName"), g.findtext(f"{NS}value")) for g in area.iter(f"{NS}geocode")
    ]
    assert geocodes == [("H3", c["cell"]) for c in alert.cells]

    centre, radius = (area.findtext(f"{NS}circle") or "").split(" ")
    lat, lon = (float(x) for x in centre.split(","))
    assert (lat, lon) == EPICENTRE
    farthest_km = max(
        haversine_scalar_km(lat, lon, vlat, vlon)
        for c in alert.cells
        for vlat, vlon in h3.cell_to_boundary(c["cell"])
    )
    # Encloses every vertex and is no looser than the 0.1 km rounding.
    assert farthest_km <= float(radius) <= farthest_km + 0.1


def test_later_revision_is_an_update_referencing_earlier_messages() -> None:
    earlier = (
        ("crowdquake-alert-39", ISSUED - timedelta(seconds=6)),
        ("crowdquake-alert-40", ISSUED - timedelta(seconds=3)),
    )
    alert = make_alert(revision=3, level="be_aware", event_status="confirmed")
    message = cap.CapMessage(
        msg_type="Update",
        identifier=cap.cap_identifier(alert.alert_id),
        sent=alert.issued_at,
        level=alert.level,
        chain_id=39,
        alert_id=alert.alert_id,
        event_id=alert.event_id,
        event_public_id=alert.event_public_id,
        references=earlier,
    )
    root = parse(cap.render_cap(alert, sender="cq", message=message))
    assert_in_sequence(child_names(root), ALERT_SEQUENCE)
    assert root.findtext(f"{NS}msgType") == "Update"
    assert root.findtext(f"{NS}references") == (
        "cq,crowdquake-alert-39,2026-11-25T12:00:01-00:00 "
        "cq,crowdquake-alert-40,2026-11-25T12:00:04-00:00"
    )
    assert root.findtext(f"{NS}info/{NS}severity") == "Moderate"
    assert root.findtext(f"{NS}info/{NS}certainty") == "Observed"
    assert root.findtext(f"{NS}info/{NS}responseType") == "Monitor"


def test_unknown_magnitude_and_invalid_cells() -> None:
    alert = make_alert(
        magnitude=None,
        cells=(
            {"cell": "not-a-cell", "predicted_mmi": 9.0, "s_arrival_time": ISSUED.isoformat()},
            {"cell": h3.latlng_to_cell(*EPICENTRE, 6), "predicted_mmi": 4.0, "s_arrival_time": ""},
        ),
    )
    info = parse(cap.render_cap(alert)).find(f"{NS}info")
    assert info is not None
    assert (info.findtext(f"{NS}headline") or "").startswith("Earthquake at")
    names = {p.findtext(f"{NS}valueName") for p in info.iter(f"{NS}parameter")}
    assert "Magnitude" not in names and "DepthKm" in names
    assert [g.findtext(f"{NS}value") for g in info.iter(f"{NS}geocode")] == [
        h3.latlng_to_cell(*EPICENTRE, 6)
    ]


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05-00:00"),
        (
            datetime(2026, 1, 2, 5, 4, 5, 999_999, tzinfo=UTC).astimezone(),
            "2026-01-02T05:04:05-00:00",
        ),
    ],
)
def test_cap_time(moment: datetime, text: str) -> None:
    assert cap.cap_time(moment) == text
