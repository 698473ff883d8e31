"""Live equals offline: the same triggers give the same final event through ``crowdquake
replay`` (in-process, SQLite) and through HTTP with a real API and worker process, on SQLite
with the embedded broker and on PostgreSQL + Redis (when the test URLs are set; CI sets them).

The scenario is the 2014 South Napa M6.0 over simulated phones, its first 25 s after the
origin. Both paths run the same deterministic detector, but not on the same batches: the
worker wakes on its own clock and sees the triggers as they arrive over HTTP, the replay every
0.25 s of trigger time. The final estimate may differ by what the batch boundaries change (the
trigger set of the last relocation), so it is compared within tolerances a few times smaller
than the stated uncertainties: 3 km, 0.5 s, 0.2 magnitude units.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.cli.http_replay import replay_over_http
from crowdquake.cli.scenarios import earthquake_scenario
from crowdquake.domain.geodesy import haversine_km
from crowdquake.services.detection import PipelineConfig
from crowdquake.services.replay import ReplayData
from crowdquake.services.replay import replay as offline_replay
from crowdquake.storage import migrate
from crowdquake.storage.session import make_engine, make_session_factory
from tests.functional.live import PG_URL, REDIS_URL, flush_redis, fresh_pg_database, start, wait_for

# two cold-started processes and a real-time replay: minutes on a loaded machine
pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(900)]

BACKENDS = ["embedded"] + (["postgresql+redis"] if PG_URL and REDIS_URL else [])
TOLERANCE_KM = 3.0
TOLERANCE_S = 0.5
TOLERANCE_M = 0.2
AFTER_ORIGIN_S = 25.0


@pytest.fixture(scope="module")
def napa() -> tuple[Any, ReplayData]:
    scenario, data = earthquake_scenario("Napa", penetration=0.0003, seed=5)
    assert scenario.quake is not None
    cutoff = scenario.quake.origin_time_s + AFTER_ORIGIN_S
    keep = [t for t in data.triggers if t.time.timestamp() <= cutoff]
    return scenario, ReplayData(keep, data.heartbeats)


@pytest.fixture(scope="module")
def offline_event(napa: tuple[Any, ReplayData], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The final event of ``crowdquake replay``'s pipeline (in-process, SQLite)."""
    scenario, data = napa
    url = f"sqlite:///{tmp_path_factory.mktemp('offline') / 'replay.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        events = offline_replay(make_session_factory(engine), data, PipelineConfig())
    finally:
        engine.dispose()
    return _the_event(events, scenario.quake, timedelta(0))


@pytest.fixture(params=BACKENDS)
def live_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "embedded":
        database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
        backend = f"db+sqlite:///{tmp_path / 'results.sqlite3'}"
    else:
        database_url = fresh_pg_database(PG_URL, "live_offline")
        broker_url = backend = REDIS_URL
        flush_redis(REDIS_URL)
    migrate.upgrade(database_url)
    yield {
        "CROWDQUAKE_DATABASE_URL": database_url,
        "CROWDQUAKE_BROKER_URL": broker_url,
        "CROWDQUAKE_RESULT_BACKEND": backend,
        "CROWDQUAKE_RATE_LIMIT_STORAGE_URL": "memory://",
        "CROWDQUAKE_INSTANCE_DIR": str(tmp_path),
        "CROWDQUAKE_REGISTRATION_RATE_LIMIT_PER_MINUTE": "1000000",
        # phones registered over HTTP a second ago: trusted as in a vetted deployment (the
        # trust assessment changes no location or magnitude, only whether an alert is held)
        "CROWDQUAKE_TRUST_ALL_DEVICES": "1",
    }


def _events(base: str) -> list[dict[str, Any]]:
    """Every event of the last hour with its revisions (one page suffices here)."""
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    params = {"since": since, "include": "revisions", "limit": "500"}
    with httpx.Client(base_url=base + "/api/v1", timeout=10) as http:
        page = http.get("/events", params=params).raise_for_status().json()
    return list(page["events"])


def _the_event(events: list[dict[str, Any]], quake: Any, shift: timedelta) -> dict[str, Any]:
    """The one event near the epicentre whose origin time is the quake's (moved by shift)."""
    origin = datetime.fromtimestamp(quake.origin_time_s, UTC) + shift
    near = [
        e
        for e in events
        if haversine_km(e["latitude"], e["longitude"], quake.lat_deg, quake.lon_deg) < 20
        and abs((datetime.fromisoformat(e["origin_time"]) - origin).total_seconds()) < 30
    ]
    assert len(near) == 1, f"expected one event near the epicentre, got {len(near)}"
    return near[0]


def test_http_with_a_worker_gives_the_replay_s_final_event(
    live_env: dict[str, str], tmp_path: Path, napa: tuple[Any, ReplayData], offline_event: Any
) -> None:
    scenario, data = napa
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start(
        ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
        live_env,
        tmp_path / "web.log",
    )
    worker = start(["worker", "--pool", "solo", "--beat"], live_env, tmp_path / "worker.log")
    try:
        wait_ready(base, timeout_s=120)
        report = replay_over_http(base, data, lead_s=2.0, settle_s=0, show_progress=False)
        assert not report.errors and report.sent == len(data.triggers)

        def settled() -> dict[str, Any] | None:
            # the final revision: the same one on two reads 3 s apart
            first = _events(base)
            time.sleep(3.0)
            second = _events(base)
            try:
                a = _the_event(first, scenario.quake, report.shift)
                b = _the_event(second, scenario.quake, report.shift)
            except AssertionError:
                return None
            return b if a["revisions"] == b["revisions"] else None

        live = wait_for(settled, 90, "the live event's final revision")
    finally:
        stop(web)
        stop(worker)
    live_origin = datetime.fromisoformat(live["origin_time"]) - report.shift
    offline_origin = datetime.fromisoformat(offline_event["origin_time"])
    off = offline_event
    km = float(haversine_km(live["latitude"], live["longitude"], off["latitude"], off["longitude"]))
    assert km <= TOLERANCE_KM, (live, offline_event)
    assert abs((live_origin - offline_origin).total_seconds()) <= TOLERANCE_S
    assert live["magnitude"] is not None and offline_event["magnitude"] is not None
    assert abs(live["magnitude"] - offline_event["magnitude"]) <= TOLERANCE_M
    assert (
        abs(live["n_triggers"] - offline_event["n_triggers"]) <= 0.1 * offline_event["n_triggers"]
    )
