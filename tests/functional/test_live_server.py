"""A scripted client session over real HTTP against ``crowdquake serve`` (gunicorn).

Runs on SQLite, and on PostgreSQL when CROWDQUAKE_TEST_DATABASE_URL is set (in a separate
database, because the live server really commits). Row counts are read back with a separate
engine to prove rejected requests wrote nothing.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.storage import migrate, models
from crowdquake.storage.queries import COPY_MIN_ROWS
from crowdquake.storage.session import make_engine
from tests.functional.live import fresh_pg_database, start

PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")
RATE_LIMIT = 40


def _serve(backend: str, instance: Path, threads: int) -> Iterator[dict[str, Any]]:
    if backend == "postgresql":
        url = fresh_pg_database(PG_URL, f"live{threads}")
    else:
        url = f"sqlite:///{instance / 'live.sqlite3'}"
    migrate.upgrade(url)
    port = free_port()
    env = {
        "CROWDQUAKE_DATABASE_URL": url,
        "CROWDQUAKE_INSTANCE_DIR": str(instance),
        "CROWDQUAKE_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite3'}",
        "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "CROWDQUAKE_MAX_REQUEST_BYTES": "65536",
        "CROWDQUAKE_WEB_WORKERS": "1",
        "CROWDQUAKE_WEB_THREADS": str(threads),
    }
    process = start(["serve", "--bind", f"127.0.0.1:{port}"], env, Path(instance) / "web.log")
    engine = make_engine(url)
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout_s=30)
        yield {"base": f"http://127.0.0.1:{port}", "engine": engine, "backend": backend}
    finally:
        stop(process)
        engine.dispose()


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="module", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One sync worker: a connection per request (as the default configuration serves)."""
    yield from _serve(request.param, tmp_path_factory.mktemp("live"), threads=1)


@pytest.fixture(scope="module", params=BACKENDS)
def threaded_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One gthread worker with 8 request threads: concurrent single-trigger posts share group
    commits on PostgreSQL."""
    yield from _serve(request.param, tmp_path_factory.mktemp("threaded"), threads=8)


def _counts(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: int(conn.scalar(select(func.count()).select_from(model)) or 0)
            for model in (models.Device, models.DeviceState, models.Trigger)
        }


def _trigger(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "trigger_time": (datetime.now(UTC) - timedelta(seconds=3)).isoformat(),
        "clock_offset_s": 0.1,
        "latitude": 35.68,
        "longitude": 139.69,
        "accuracy_m": 20.0,
        "pga_ms2": 0.15,
        "score": 0.88,
        "model_version": "cq-edge-1",
    }
    body.update(overrides)
    return body


def test_scripted_session_over_http(live_server: dict[str, Any]) -> None:
    engine = live_server["engine"]
    with httpx.Client(base_url=live_server["base"] + "/api/v1", timeout=10) as http:
        device = http.post(
            "/devices", json={"platform": "ios", "app_version": "2.1", "model_version": "cq-edge-1"}
        )
        assert device.status_code == 201
        auth = {"Authorization": f"Bearer {device.json()['token']}"}
        hb = http.post(
            "/heartbeats",
            headers=auth,
            json={
                "latitude": 35.68,
                "longitude": 139.69,
                "accuracy_m": 8.0,
                "steady": True,
                "charging": False,
                "app_version": "2.1",
                "model_version": "cq-edge-1",
                "clock_offset_s": 0.1,
            },
        )
        assert hb.status_code == 201
        body = _trigger()
        first = http.post("/triggers", headers=auth, json=body)
        assert first.status_code == 201
        replay = http.post("/triggers", headers=auth, json=body)
        assert replay.status_code == 200 and replay.json()["id"] == body["id"]
        baseline = _counts(engine)
        assert baseline == {"devices": 1, "device_state": 1, "triggers": 1}

        other = http.post(
            "/devices", json={"platform": "other", "app_version": "2.1", "model_version": "x"}
        ).json()
        other_auth = {"Authorization": f"Bearer {other['token']}"}
        baseline = _counts(engine)

        rejected = {
            400: http.post(
                "/triggers", headers={**auth, "Content-Type": "application/json"}, content=b"{oops"
            ),
            422: http.post("/triggers", headers=auth, json=_trigger(pga_ms2=-1)),
            401: http.post("/triggers", json=_trigger()),
            404: http.get(f"/triggers/{body['id']}", headers=other_auth),
            409: http.post("/triggers", headers=auth, json={**body, "score": 0.1}),
            413: http.post(
                "/triggers:batch", headers=auth, json={"triggers": [_trigger() for _ in range(400)]}
            ),
        }
        future = _trigger(trigger_time=(datetime.now(UTC) + timedelta(minutes=5)).isoformat())
        rejected[422] = http.post("/triggers", headers=auth, json=future)
        for status, response in rejected.items():
            assert response.status_code == status, (status, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["status"] == status
        assert _counts(engine) == baseline

        statuses = [
            http.post(
                "/heartbeats",
                headers=other_auth,
                json={
                    "latitude": 1.0,
                    "longitude": 2.0,
                    "accuracy_m": 5.0,
                    "steady": False,
                    "charging": False,
                    "app_version": "2.1",
                    "model_version": "x",
                },
            ).status_code
            for _ in range(RATE_LIMIT + 1)
        ]
        # The 404 probe above already counted against this device's budget.
        assert set(statuses[: RATE_LIMIT - 1]) <= {200, 201} and statuses[-1] == 429
        limited = http.post("/triggers", headers=other_auth, json=_trigger())
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        counts = _counts(engine)
        assert counts["triggers"] == baseline["triggers"]
        assert counts["device_state"] == baseline["device_state"] + 1


def test_concurrent_single_triggers_are_each_stored_once(threaded_server: dict[str, Any]) -> None:
    """16 client threads post 120 triggers of 8 devices at once, then replay them all: every
    first post is 201 with its own id, every replay 200, one row each; on PostgreSQL the
    requests went through group commits (fewer flushes than triggers is allowed, not asserted:
    grouping depends on timing; the row accounting must hold either way)."""
    engine = threaded_server["engine"]
    base = threaded_server["base"] + "/api/v1"
    with httpx.Client(base_url=base, timeout=10) as http:
        tokens = [
            http.post(
                "/devices", json={"platform": "other", "app_version": "1", "model_version": "m"}
            ).json()["token"]
            for _ in range(8)
        ]
    before = _counts(engine)["triggers"]
    bodies = [(tokens[i % 8], _trigger()) for i in range(120)]

    def post(item: tuple[str, dict[str, Any]]) -> tuple[int, str]:
        token, body = item
        response = httpx.post(
            base + "/triggers", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        first = list(pool.map(post, bodies))
        replays = list(pool.map(post, bodies))
    ids = [body["id"] for _, body in bodies]
    assert first == [(201, i) for i in ids]
    assert replays == [(200, i) for i in ids]
    assert _counts(engine)["triggers"] == before + 120
    metrics = httpx.get(threaded_server["base"] + "/metrics", timeout=10).text
    flushed = re.search(r"^crowdquake_ingest_group_commit_rows_sum (\S+)$", metrics, re.M)
    if threaded_server["backend"] == "postgresql":
        assert flushed is not None and float(flushed.group(1)) >= 120
    else:
        assert flushed is None or float(flushed.group(1)) == 0  # SQLite: no group commit


def test_large_batches_are_all_or_nothing_over_http(live_server: dict[str, Any]) -> None:
    """Batches of COPY_MIN_ROWS and more take the COPY path on PostgreSQL (the served app's
    connections have the staging table): same answers, rows and rollback as the statement."""
    engine = live_server["engine"]
    n = COPY_MIN_ROWS + 4
    with httpx.Client(base_url=live_server["base"] + "/api/v1", timeout=10) as http:
        device = http.post(
            "/devices", json={"platform": "ios", "app_version": "2.1", "model_version": "cq-edge-1"}
        )
        auth = {"Authorization": f"Bearer {device.json()['token']}"}
        batch = [_trigger(latitude=35.0 + i * 0.01) for i in range(n)]
        before = _counts(engine)["triggers"]
        first = http.post("/triggers:batch", headers=auth, json={"triggers": batch})
        assert first.status_code == 201, first.text
        assert [t["created"] for t in first.json()["triggers"]] == [True] * n
        assert _counts(engine)["triggers"] == before + n
        replay = http.post("/triggers:batch", headers=auth, json={"triggers": batch})
        assert replay.status_code == 200
        assert [t["created"] for t in replay.json()["triggers"]] == [False] * n
        # One reused id with another body: 409, and none of the new rows is stored.
        fresh = [_trigger() for _ in range(n - 1)]
        conflict = http.post(
            "/triggers:batch",
            headers=auth,
            json={"triggers": [*fresh, {**batch[3], "score": 0.11}]},
        )
        assert conflict.status_code == 409, conflict.text
        assert _counts(engine)["triggers"] == before + n
        # Half replays, half new: only the new half is created.
        mixed = batch[: n // 2] + fresh[: n - n // 2]
        answer = http.post("/triggers:batch", headers=auth, json={"triggers": mixed})
        assert answer.status_code == 201
        created = [t["created"] for t in answer.json()["triggers"]]
        assert created == [False] * (n // 2) + [True] * (n - n // 2)
        assert _counts(engine)["triggers"] == before + n + n - n // 2
        with engine.connect() as conn:
            stored = dict(
                conn.execute(
                    select(models.Trigger.id, models.Trigger.lat_deg).where(
                        models.Trigger.id.in_([uuid.UUID(t["id"]) for t in batch])
                    )
                ).all()
            )
        assert {str(k): v for k, v in stored.items()} == {t["id"]: t["latitude"] for t in batch}
