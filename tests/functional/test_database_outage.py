"""PostgreSQL goes down under a live ``crowdquake serve`` and comes back.

While it is down, ingest answers 503 problem+json with Retry-After within 1 s (no 500, no hang)
and stores nothing; when it is back, the same server accepts again without a restart, and every
trigger that got a 2xx is stored exactly once. Runs on a private cluster (initdb on a free port):
never the shared server.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.storage import migrate, models
from crowdquake.storage.session import make_engine
from tests.functional.live import start
from tests.functional.pg_cluster import PrivateCluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    cluster = PrivateCluster()
    cluster.init()
    cluster.start()
    try:
        url = cluster.create_database("outage")
        migrate.upgrade(url)
        port = free_port()
        env = {
            "CROWDQUAKE_DATABASE_URL": url,
            "CROWDQUAKE_INSTANCE_DIR": str(tmp_path),
            "CROWDQUAKE_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
            "CROWDQUAKE_WEB_WORKERS": "2",
            "CROWDQUAKE_WEB_THREADS": "4",
            "CROWDQUAKE_STREAM_PROCESSES": "0",
            "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "100000",
        }
        server = start(["serve", "--bind", f"127.0.0.1:{port}"], env, tmp_path / "web.log")
        try:
            wait_ready(f"http://127.0.0.1:{port}", timeout_s=60)
            yield {
                "base": f"http://127.0.0.1:{port}",
                "cluster": cluster,
                "url": url,
                "log": tmp_path / "web.log",
            }
        finally:
            stop(server)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        cluster.remove()


def _trigger() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "trigger_time": datetime.now(UTC).isoformat(),
        "clock_offset_s": 0.0,
        "latitude": 37.87,
        "longitude": -122.26,
        "accuracy_m": 15.0,
        "pga_ms2": 0.2,
        "score": 0.9,
        "model_version": "cq-edge-1",
    }


def test_postgres_down_means_503_then_recovery_without_restart(stack: dict[str, Any]) -> None:
    accepted: list[str] = []
    with httpx.Client(base_url=stack["base"], timeout=10.0) as http:
        body = {"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"}
        token = http.post("/api/v1/devices", json=body).raise_for_status().json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(10):  # warm every worker's pool
            trigger = _trigger()
            assert http.post("/api/v1/triggers", json=trigger, headers=auth).status_code == 201
            accepted.append(trigger["id"])

        stack["cluster"].stop()
        rejected: list[str] = []
        for path, payload in [("/api/v1/triggers", None), ("/api/v1/heartbeats", "hb")] * 5:
            started = time.monotonic()
            if payload is None:
                trigger = _trigger()
                response = http.post(path, json=trigger, headers=auth)
                rejected.append(trigger["id"])
            else:
                hb = {
                    "latitude": 37.8,
                    "longitude": -122.3,
                    "accuracy_m": 10.0,
                    "steady": True,
                    "charging": True,
                    "app_version": "1",
                    "model_version": "m",
                }
                response = http.post(path, json=hb, headers=auth)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert int(response.headers["Retry-After"]) >= 1
            assert elapsed < 1.0, elapsed
        assert http.get("/readyz").status_code == 503

        stack["cluster"].start()
        recovered_after = None
        started = time.monotonic()
        while time.monotonic() - started < 30:
            trigger = _trigger()
            response = http.post("/api/v1/triggers", json=trigger, headers=auth)
            if response.status_code == 201:
                accepted.append(trigger["id"])
                recovered_after = time.monotonic() - started
                break
            assert response.status_code == 503, response.text
            time.sleep(0.2)
        assert recovered_after is not None, "ingest did not recover"
        for _ in range(10):  # every worker recovered, not just one
            trigger = _trigger()
            assert http.post("/api/v1/triggers", json=trigger, headers=auth).status_code == 201
            accepted.append(trigger["id"])
        assert http.get("/readyz").status_code == 200

    engine = make_engine(stack["url"])
    try:
        with engine.connect() as conn:
            stored = set(map(str, conn.scalars(select(models.Trigger.id))))
            total = conn.scalar(select(func.count()).select_from(models.Trigger))
    finally:
        engine.dispose()
    assert stored == set(accepted) and total == len(accepted)
    assert not stored & set(rejected)
    assert " 500 " not in stack["log"].read_text()
