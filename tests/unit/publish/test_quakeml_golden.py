"""Golden structure: the string-template QuakeML writer produces the same XML infoset as the
element-tree writer it replaced (kept as ``quakeml_reference``), over every branch of the
writer (statuses, review, missing magnitude or uncertainties, picks, all origins/magnitudes,
characters that must be escaped), and the result is well-formed, schema-valid QuakeML."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from obspy.io.quakeml.core import _validate as validate_quakeml

from crowdquake.services.catalog import Arrival, Origin, PublishedEvent
from crowdquake.services.formats.quakeml import render_quakeml
from tests.unit.publish import quakeml_reference

T0 = datetime(2026, 11, 25, 12, 0, 0, 250_000, tzinfo=UTC)


def origin(version: int, **changes: object) -> Origin:
    base = Origin(
        version=version,
        origin_time=T0,
        lat_deg=-33.45 + 0.013 * version,
        lon_deg=179.99,
        depth_km=12.345678,
        magnitude=5.2 + 0.1 * version,
        magnitude_uncertainty=0.25,
        horizontal_uncertainty_km=3.0,
        depth_uncertainty_km=6.0,
        origin_time_uncertainty_s=0.5,
        n_triggers=10 * version,
        n_active=500,
        method="grid search/v1",
        created_at=T0 + timedelta(seconds=3 * version),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def arrival(i: int) -> Arrival:
    return Arrival(
        uuid.UUID(int=i + 1),
        "P" if i % 2 == 0 else "S",
        T0 + timedelta(seconds=4 + i),
        0.2 - 0.1 * i,
        "87283082bffffff",
        0.3 + i,
        45.0 * i,
    )


def event(
    public_id: str, status: str, reviewed: bool, origins: tuple[Origin, ...], arrivals: int
) -> PublishedEvent:
    return PublishedEvent(
        public_id=public_id,
        status=status,
        reviewed=reviewed,
        created_at=T0 + timedelta(seconds=3),
        updated_at=T0 + timedelta(seconds=9),
        preferred=origins[-1],
        origins=origins,
        arrivals=tuple(arrival(i) for i in range(arrivals)),
    )


EVENTS = [
    event("cqfull", "confirmed", True, (origin(1), origin(2), origin(3)), 3),
    event("cqheld", "held", False, (origin(1),), 0),
    event("cqcand", "candidate", False, (origin(1, magnitude=None), origin(2)), 1),
    event("cqrej", "rejected", True, (origin(1), origin(2, magnitude=None)), 0),
    event("cqcan", "cancelled", False, (origin(1),), 2),
    event(
        "cqbare",
        "confirmed",
        False,
        (
            origin(
                4,
                magnitude_uncertainty=None,
                horizontal_uncertainty_km=None,
                depth_uncertainty_km=None,
                origin_time_uncertainty_s=None,
                method="",
            ),
        ),
        0,
    ),
]


def canonical(xml: bytes) -> str:
    return ET.canonicalize(xml_data=xml.decode("utf-8"))


@pytest.mark.parametrize("all_origins", [False, True])
@pytest.mark.parametrize("all_magnitudes", [False, True])
def test_same_document_as_the_element_tree_writer(all_origins: bool, all_magnitudes: bool) -> None:
    args = {
        "authority": "org.example",
        "agency": "crowdquake",
        "catalog_id": "crowdquake",
        "all_origins": all_origins,
        "all_magnitudes": all_magnitudes,
    }
    fast = render_quakeml(EVENTS, **args)  # type: ignore[arg-type]
    reference = quakeml_reference.render_quakeml(EVENTS, **args)  # type: ignore[arg-type]
    assert canonical(fast) == canonical(reference)
    assert validate_quakeml(io.BytesIO(fast)) is True


def test_text_and_attributes_are_escaped() -> None:
    odd = replace(EVENTS[0], public_id='cq<&>"x')
    odd = replace(odd, preferred=replace(odd.preferred, method='a&b<c>"'))
    args = {"authority": "org.example&co", "agency": "A&B <cq>", "catalog_id": 'c"q'}
    fast = render_quakeml([odd], **args)  # type: ignore[arg-type]
    reference = quakeml_reference.render_quakeml([odd], **args)  # type: ignore[arg-type]
    assert canonical(fast) == canonical(reference)
    root = ET.fromstring(fast)
    ns = {"b": "http://quakeml.org/xmlns/bed/1.2"}
    found = root.find("b:eventParameters/b:event", ns)
    assert found is not None and found.get("publicID") == 'smi:org.example&co/event/cq<&>"x'
    assert root.findtext(".//b:creationInfo/b:agencyID", namespaces=ns) == "A&B <cq>"


def test_empty_document() -> None:
    args = {"authority": "org.example", "agency": "cq", "catalog_id": "cq"}
    fast = render_quakeml([], **args)  # type: ignore[arg-type]
    assert canonical(fast) == canonical(quakeml_reference.render_quakeml([], **args))  # type: ignore[arg-type]
