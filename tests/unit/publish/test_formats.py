"""The catalogue writers as pure functions: QuakeML 1.2 validates with ObsPy's schema check,
units (metres vs kilometres), evaluation status from our lifecycle, USGS GeoJSON structure."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import obspy
import pytest
from obspy.io.quakeml.core import _validate as validate_quakeml

from crowdquake.services.catalog import Arrival, Origin, PublishedEvent
from crowdquake.services.formats.fdsntext import render_text
from crowdquake.services.formats.geojson import render_geojson
from crowdquake.services.formats.quakeml import render_quakeml

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def origin(version: int, magnitude: float | None = 5.2) -> Origin:
    return Origin(
        version=version,
        origin_time=T0,
        lat_deg=37.8 + 0.01 * version,
        lon_deg=-122.3,
        depth_km=12.5,
        magnitude=magnitude,
        magnitude_uncertainty=0.25,
        horizontal_uncertainty_km=3.0,
        depth_uncertainty_km=6.0,
        origin_time_uncertainty_s=0.5,
        n_triggers=10 * version,
        n_active=500,
        method="grid search/v1",
        created_at=T0 + timedelta(seconds=3 * version),
    )


def event(status: str = "confirmed", reviewed: bool = False) -> PublishedEvent:
    origins = (origin(1), origin(2), origin(3))
    arrival = Arrival(
        uuid.uuid4(), "P", T0 + timedelta(seconds=4), 0.2, "87283082bffffff", 0.3, 45.0
    )
    return PublishedEvent(
        public_id="cq2026test",
        status=status,
        reviewed=reviewed,
        created_at=T0 + timedelta(seconds=3),
        updated_at=T0 + timedelta(seconds=9),
        preferred=origins[-1],
        origins=origins,
        arrivals=(arrival,),
    )


@pytest.mark.parametrize(
    "name",
    [
        "crowdquake.services.catalog",
        "crowdquake.services.formats.quakeml",
        "crowdquake.services.formats.geojson",
        "crowdquake.storage.catalog",
    ],
)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("status", "reviewed", "evaluation", "mode"),
    [
        ("candidate", False, "preliminary", "automatic"),
        ("held", False, "preliminary", "automatic"),
        ("confirmed", False, "confirmed", "automatic"),
        ("confirmed", True, "confirmed", "manual"),
        ("rejected", True, "rejected", "manual"),
        ("cancelled", False, "rejected", "automatic"),
    ],
)
def test_quakeml_lifecycle_units_and_validity(
    status: str, reviewed: bool, evaluation: str, mode: str
) -> None:
    xml = render_quakeml(
        [event(status, reviewed)],
        authority="org.example",
        agency="crowdquake",
        catalog_id="crowdquake",
        all_origins=True,
        all_magnitudes=True,
    )
    assert validate_quakeml(io.BytesIO(xml)) is True
    read = obspy.read_events(io.BytesIO(xml), format="QUAKEML")[0]
    preferred = read.preferred_origin()
    assert preferred.evaluation_status == evaluation
    assert preferred.evaluation_mode == mode
    assert [o.evaluation_status for o in read.origins[:2]] == [
        "rejected" if evaluation == "rejected" else "preliminary"
    ] * 2
    assert preferred.depth == 12_500.0 and preferred.depth_errors.uncertainty == 6_000.0
    assert preferred.latitude_errors.uncertainty == pytest.approx(3.0 / 111.195, rel=1e-3)
    assert len(read.magnitudes) == 3
    assert str(read.preferred_magnitude().origin_id) == str(preferred.resource_id)
    assert str(read.origins[0].method_id) == "smi:org.example/method/grid_search_v1"


def test_only_preferred_origin_unless_asked() -> None:
    one = replace(event(), origins=(), arrivals=())
    xml = render_quakeml([one], authority="org.example", agency="a", catalog_id="c")
    read = obspy.read_events(io.BytesIO(xml), format="QUAKEML")[0]
    assert len(read.origins) == 1 and len(read.magnitudes) == 1 and not read.picks


def test_text_depth_in_km_and_no_magnitude() -> None:
    e = replace(event(), preferred=origin(3, magnitude=None))
    lines = render_text([e], agency="cq", catalog_id="cq").decode().splitlines()
    fields = lines[1].split("|")
    assert len(fields) == len(lines[0].split("|")) == 14
    assert fields[4] == "12.500" and fields[9] == "" and fields[10] == ""


def test_geojson_is_the_usgs_structure() -> None:
    body = render_geojson(
        [event("rejected"), event(reviewed=True), event()],
        generated=T0,
        url="http://x/feed",
        title="t",
        detail_url="http://x/{id}.geojson",
        page_url="http://x/{id}",
    )
    data = json.loads(body)
    assert data["type"] == "FeatureCollection" and data["metadata"]["count"] == 3
    first = data["features"][0]
    assert first["geometry"]["coordinates"] == [-122.3, 37.83, 12.5]
    assert first["properties"]["time"] == int(T0.timestamp() * 1000)
    assert [f["properties"]["status"] for f in data["features"]] == [
        "deleted",
        "reviewed",
        "automatic",
    ]
    assert first["properties"]["detail"] == "http://x/cq2026test.geojson"
    assert len(data["bbox"]) == 6
