"""Open alert streams never slow the API: ``crowdquake serve`` with ONE sync web worker (the
configuration a stream would block outright if the web workers served it) and the stream server
process it starts. With one stream and with many open (opened through the API's redirect, as a
phone does), every ``/healthz`` and every trigger POST must answer within 1 s; an alert issued
meanwhile reaches the streams.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import ClientSession, ClientTimeout, TCPConnector

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.storage import migrate
from crowdquake.storage.session import make_engine, make_session_factory
from tests.functional.live import start, wait_for
from tests.functional.test_alert_streams import issue_alert

pytestmark = [pytest.mark.slow]

SF = (37.7749, -122.4194)
MANY = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    instance = tmp_path_factory.mktemp("streams-live")
    url = f"sqlite:///{instance / 'live.sqlite3'}"
    migrate.upgrade(url)
    port, stream_port = free_port(), free_port()
    env = {
        "CROWDQUAKE_DATABASE_URL": url,
        "CROWDQUAKE_INSTANCE_DIR": str(instance),
        "CROWDQUAKE_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite3'}",
        "CROWDQUAKE_WEB_WORKERS": "1",
        "CROWDQUAKE_WEB_THREADS": "1",
        "CROWDQUAKE_STREAM_BIND": f"127.0.0.1:{stream_port}",
        "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "100000",
        "CROWDQUAKE_REGISTRATION_RATE_LIMIT_PER_MINUTE": "100000",
    }
    process = start(["serve", "--bind", f"127.0.0.1:{port}"], env, Path(instance) / "web.log")
    engine = make_engine(url)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout_s=60)
        wait_ready(f"http://127.0.0.1:{stream_port}", timeout_s=60, path="/healthz")
        yield {"base": base, "factory": make_session_factory(engine), "log": instance / "web.log"}
    finally:
        stop(process)
        engine.dispose()


def _device(http: httpx.Client) -> str:
    body = {"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"}
    token = str(http.post("/api/v1/devices", json=body).raise_for_status().json()["token"])
    heartbeat = {
        "latitude": SF[0],
        "longitude": SF[1],
        "accuracy_m": 10.0,
        "steady": True,
        "charging": True,
        "app_version": "1.0.0",
        "model_version": "cq-edge-1",
    }
    http.post(
        "/api/v1/heartbeats", json=heartbeat, headers={"Authorization": f"Bearer {token}"}
    ).raise_for_status()
    return token


class Streams:
    """``n`` SSE clients on their own event loop thread, opened through the API's redirect."""

    def __init__(self, base: str, tokens: list[str]) -> None:
        self.base = base
        self.tokens = tokens
        self.open = 0
        self.received: dict[int, set[int]] = {}  # alert id -> client indexes
        self.loop = asyncio.new_event_loop()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),))

    async def main(self) -> None:
        connector = TCPConnector(limit=0)  # aiohttp's default pool would hold only 100 streams
        async with ClientSession(connector=connector, timeout=ClientTimeout(total=None)) as http:
            tasks = [
                asyncio.create_task(self.client(http, i, t)) for i, t in enumerate(self.tokens)
            ]
            while not self.done.is_set():
                await asyncio.sleep(0.05)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def client(self, http: ClientSession, index: int, token: str) -> None:
        async with http.get(
            f"{self.base}/api/v1/alerts/stream",
            params={"max_s": "600", "since": "0"},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200, await response.text()
            self.open += 1
            async for line in response.content:
                if line.startswith(b"id: "):
                    self.received.setdefault(int(line[4:]), set()).add(index)

    def __enter__(self) -> Streams:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(30)
        self.loop.close()


def _latencies(http: httpx.Client, token: str, rounds: int) -> list[float]:
    """Seconds of each /healthz and each trigger POST, alternating."""
    seen: list[float] = []
    for _ in range(rounds):
        started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        seen.append(time.monotonic() - started)
        trigger = {
            "id": str(uuid.uuid4()),
            "trigger_time": datetime.now(UTC).isoformat(),
            "clock_offset_s": 0.0,
            "latitude": SF[0],
            "longitude": SF[1],
            "accuracy_m": 10.0,
            "pga_ms2": 0.5,
            "score": 0.9,
            "model_version": "cq-edge-1",
        }
        started = time.monotonic()
        response = http.post(
            "/api/v1/triggers", json=trigger, headers={"Authorization": f"Bearer {token}"}
        )
        seen.append(time.monotonic() - started)
        assert response.status_code == 201, response.text
        time.sleep(0.05)
    return seen


@pytest.mark.parametrize("n_streams", [1, MANY])
def test_open_streams_never_slow_health_or_ingest(server: dict[str, Any], n_streams: int) -> None:
    with httpx.Client(base_url=server["base"], timeout=10.0) as http:
        tokens = [_device(http) for _ in range(n_streams)]
        sender = _device(http)
        with Streams(server["base"], tokens) as streams:
            wait_for(lambda: streams.open == n_streams or None, 60, f"{n_streams} open streams")
            latencies = _latencies(http, sender, rounds=20)
            alert_id = issue_alert(server["factory"])
            wait_for(
                lambda: len(streams.received.get(alert_id, ())) == n_streams or None,
                30,
                "the alert on every stream",
            )
            latencies += _latencies(http, sender, rounds=5)
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
