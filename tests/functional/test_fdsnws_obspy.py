"""The FDSN event service read by ObsPy, the seismologist's client, over real HTTP.

A catalogue of known events is written into a fresh database, ``crowdquake serve`` (gunicorn)
serves it, and ``obspy.clients.fdsn.Client`` discovers the service from its WADL and queries it.
Runs on SQLite, and on PostgreSQL when CROWDQUAKE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import obspy
import pytest
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import (
    FDSNBadRequestException,
    FDSNNoDataException,
    FDSNRequestTooLargeException,
)
from obspy.io.quakeml.core import _validate as validate_quakeml

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.storage import migrate
from crowdquake.storage.session import make_engine, make_session_factory
from tests.factories import Quake, add_quake
from tests.functional.live import fresh_pg_database, start

PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
MAX_EVENTS = 5

QUAKES = [
    # public id, origin time, lat, lon, depth km, magnitude
    Quake("cqnapa", T0.replace(hour=1), 38.22, -122.31, 11.0, 6.0, revisions=3, triggers=6),
    Quake("cqberkeley", T0.replace(hour=2), 37.87, -122.26, 8.0, 3.2),
    Quake("cqtokyo", T0.replace(hour=3), 35.68, 139.69, 40.0, 4.8, status="candidate"),
    Quake("cqsantiago", T0.replace(hour=4), -33.45, -70.66, 90.0, 5.5),
    Quake("cqfiji", T0.replace(hour=5), -17.8, 179.9, 550.0, 6.4, status="held"),
    Quake("cqrejected", T0.replace(hour=6), 37.80, -122.40, 5.0, 4.0, status="rejected"),
    Quake("cqlater", T0.replace(day=22, hour=6), 37.20, -121.8, 7.0, 2.5),
]


@pytest.fixture(scope="module", params=BACKENDS)
def fdsn_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    instance = tmp_path_factory.mktemp("fdsn")
    if request.param == "postgresql":
        url = fresh_pg_database(PG_URL, "fdsn")
    else:
        url = f"sqlite:///{instance / 'fdsn.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        for quake in QUAKES:
            add_quake(session, quake)
        session.commit()
    engine.dispose()
    port = free_port()
    env = {
        "CROWDQUAKE_DATABASE_URL": url,
        "CROWDQUAKE_INSTANCE_DIR": str(instance),
        "CROWDQUAKE_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite3'}",
        "CROWDQUAKE_WEB_WORKERS": "1",
        "CROWDQUAKE_WEB_THREADS": "4",
        "CROWDQUAKE_FDSN_MAX_EVENTS": str(MAX_EVENTS),
        "CROWDQUAKE_QUAKEML_AUTHORITY": "org.example.crowdquake",
    }
    process = start(["serve", "--bind", f"127.0.0.1:{port}"], env, Path(instance) / "web.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout_s=30)
        yield {"base": f"http://127.0.0.1:{port}"}
    finally:
        stop(process)


@pytest.fixture(scope="module")
def client(fdsn_server: dict[str, Any]) -> Client:
    return Client(fdsn_server["base"], timeout=30)


def ids(catalog: obspy.Catalog) -> set[str]:
    return {str(e.resource_id).rsplit("/", 1)[-1] for e in catalog}


def test_client_discovers_the_event_service(client: Client) -> None:
    assert "event" in client.services
    assert "dataselect" not in client.services  # we do not serve waveforms
    assert "minmagnitude" in client.services["event"]
    assert set(client.services["available_event_catalogs"]) == {"crowdquake"}


def test_time_window(client: Client) -> None:
    found = client.get_events(
        starttime=obspy.UTCDateTime(T0.replace(hour=2)),
        endtime=obspy.UTCDateTime(T0.replace(hour=4)),
    )
    assert ids(found) == {"cqberkeley", "cqtokyo", "cqsantiago"}
    assert [e.preferred_origin().time for e in found] == sorted(
        (e.preferred_origin().time for e in found), reverse=True
    )


def test_box_radius_and_magnitude(client: Client) -> None:
    box = client.get_events(minlatitude=37, maxlatitude=39, minlongitude=-123, maxlongitude=-121)
    assert ids(box) == {"cqnapa", "cqberkeley", "cqlater"}  # rejected events are not listed
    # From Berkeley: Napa is 0.35° of arc away, "later" 0.76°.
    near = client.get_events(latitude=37.87, longitude=-122.26, maxradius=0.5)
    assert ids(near) == {"cqnapa", "cqberkeley"}
    ring = client.get_events(latitude=37.87, longitude=-122.26, minradius=0.1, maxradius=1.0)
    assert ids(ring) == {"cqnapa", "cqlater"}
    big = client.get_events(minmagnitude=5.5)
    assert ids(big) == {"cqnapa", "cqsantiago", "cqfiji"}
    small = client.get_events(maxmagnitude=3.2, magnitudetype="Mw")
    assert ids(small) == {"cqberkeley", "cqlater"}
    # The antimeridian: a box from 179° E to 179° W holds Fiji.
    dateline = client.get_events(minlongitude=179, maxlongitude=-179)
    assert ids(dateline) == {"cqfiji"}
    deep = client.get_events(mindepth=100)
    assert ids(deep) == {"cqfiji"}


def test_quakeml_detail_validates_and_reads(client: Client, fdsn_server: dict[str, Any]) -> None:
    url = f"{fdsn_server['base']}/fdsnws/event/1/query"
    params = {"eventid": "cqnapa", "includeallorigins": "true", "includearrivals": "true"}
    response = httpx.get(url, params={**params, "includeallmagnitudes": "true"})
    assert response.status_code == 200
    assert validate_quakeml(io.BytesIO(response.content)) is True
    event = client.get_events(eventid="cqnapa", includeallorigins=True, includearrivals=True)[0]
    assert str(event.resource_id) == "smi:org.example.crowdquake/event/cqnapa"
    assert len(event.origins) == 3
    origin = event.preferred_origin()
    assert str(origin.resource_id).endswith("/origin/cqnapa/3")
    assert origin.depth == pytest.approx(11_000.0)  # metres in QuakeML
    assert origin.depth_errors.uncertainty == pytest.approx(5_000.0)
    assert origin.origin_uncertainty.horizontal_uncertainty == pytest.approx(4_000.0)
    assert origin.evaluation_status == "confirmed"
    assert origin.evaluation_mode == "automatic"
    assert event.preferred_magnitude().mag == pytest.approx(6.0)
    assert event.preferred_magnitude().magnitude_type == "Mw"
    assert len(event.picks) == 6 and len(origin.arrivals) == 6
    assert {str(a.pick_id) for a in origin.arrivals} == {str(p.resource_id) for p in event.picks}
    assert all(len(p.waveform_id.station_code) <= 8 for p in event.picks)
    held = client.get_events(eventid="cqfiji")[0]
    assert held.preferred_origin().evaluation_status == "preliminary"
    # A withdrawn event is still there when asked by id, marked rejected.
    rejected = client.get_events(eventid="cqrejected")[0]
    assert rejected.preferred_origin().evaluation_status == "rejected"
    assert rejected.event_type == "not existing"


def test_text_format_parses(fdsn_server: dict[str, Any]) -> None:
    response = httpx.get(
        f"{fdsn_server['base']}/fdsnws/event/1/query",
        params={"format": "text", "minmag": "5.5", "orderby": "magnitude"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    catalog = obspy.read_events(io.StringIO(response.text), format="EVENTTXT")
    assert [str(e.resource_id).rsplit("/", 1)[-1] for e in catalog] == [
        "cqfiji",
        "cqnapa",
        "cqsantiago",
    ]
    assert catalog[0].origins[0].depth == pytest.approx(550_000.0)  # km in the text
    lines = response.text.splitlines()
    assert lines[0].startswith("#EventID|Time|Latitude|Longitude|Depth/km|")
    assert lines[1].split("|")[4] == "550.000"


def test_empty_bad_and_too_large(client: Client, fdsn_server: dict[str, Any]) -> None:
    with pytest.raises(FDSNNoDataException):
        client.get_events(minmagnitude=9)
    url = f"{fdsn_server['base']}/fdsnws/event/1/query"
    assert httpx.get(url, params={"minmag": "9"}).status_code == 204
    not_found = httpx.get(url, params={"minmag": "9", "nodata": "404"})
    assert not_found.status_code == 404
    assert not_found.text.startswith("Error 404: Not Found")

    bad = httpx.get(url, params={"minmag": "big"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/plain")
    lines = bad.text.splitlines()
    assert lines[0] == "Error 400: Bad Request"
    assert "minmagnitude" in lines[2]
    for heading in ("Request:", "Request Submitted:", "Service version:"):
        assert heading in lines
    assert lines[lines.index("Service version:") + 1] == "1.2.0"
    for params in ({"nonsense": "1"}, {"start": "yesterday"}, {"lat": "91"}, {"limit": "0"}):
        assert httpx.get(url, params=params).status_code == 400, params
    with pytest.raises(FDSNBadRequestException):
        client.get_events(
            starttime=obspy.UTCDateTime(2026, 1, 2), endtime=obspy.UTCDateTime(2026, 1, 1)
        )

    # Six events are listed, the server allows five: 413 unless a limit keeps it below.
    with pytest.raises(FDSNRequestTooLargeException):
        client.get_events()
    assert httpx.get(url).status_code == 413
    assert len(client.get_events(limit=5)) == 5
    page2 = client.get_events(limit=5, offset=6)
    assert len(page2) == 1


def test_version_wadl_catalogs(fdsn_server: dict[str, Any]) -> None:
    base = f"{fdsn_server['base']}/fdsnws/event/1"
    assert httpx.get(f"{base}/version").text == "1.2.0"
    wadl = httpx.get(f"{base}/application.wadl")
    assert wadl.status_code == 200 and b'name="includearrivals"' in wadl.content
    assert b"<Contributor>crowdquake</Contributor>" in httpx.get(f"{base}/contributors").content
