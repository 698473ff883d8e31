"""The alert stream server (``crowdquake.api.stream_server``): SSE delivery, resume, caps, auth.

The aiohttp app runs in-process on a loopback port against a migrated SQLite file (the stream
server reads through its own engine and threads, so it needs a database that really commits);
rows are written with a separate session, as the detection worker would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3
import pytest
from aiohttp import ClientError, ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.api import stream_server, stream_tickets
from crowdquake.config import Settings
from crowdquake.services import alerts
from crowdquake.services.devices import register_device, set_device_status
from crowdquake.storage import migrate
from crowdquake.storage.models import DeviceState
from crowdquake.storage.session import make_engine, make_session_factory
from tests.factories import add_alert, add_quake, quake_now

SF = (37.7749, -122.4194)
CELL = h3.latlng_to_cell(*SF, 7)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('streams') / 'streams.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def settings(db: tuple[str, Engine], tmp_path: Path) -> Settings:
    return Settings(database_url=db[0], instance_dir=str(tmp_path), secret_key="k")


@pytest.fixture
def factory(db: tuple[str, Engine]) -> sessionmaker[Session]:
    return make_session_factory(db[1])


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_server, "POLL_INTERVAL_S", 0.02)


def device(factory: sessionmaker[Session], cell: str | None = CELL) -> tuple[uuid.UUID, str]:
    """A registered device with a heartbeat cell; returns (id, bearer token)."""
    now = datetime.now(UTC)
    with factory() as session:
        registered = register_device(
            session, platform="android", app_version="1", model_version="m", now=now
        )
        if cell is not None:
            lat, lon = h3.cell_to_latlng(cell)
            session.add(
                DeviceState(
                    device_id=registered.device_id,
                    cell=cell,
                    region_key=h3.cell_to_parent(cell, 2),
                    lat_deg=lat,
                    lon_deg=lon,
                    accuracy_m=10.0,
                    steady=True,
                    charging=True,
                    app_version="1",
                    model_version="m",
                    clock_offset_s=0.0,
                    last_heartbeat_at=now,
                )
            )
        session.commit()
    return registered.device_id, registered.token


def issue_alert(factory: sessionmaker[Session], cell: str = CELL, mmi: float = 5.0) -> int:
    now = datetime.now(UTC)
    with factory() as session:
        event = add_quake(session, quake_now(now, ago_s=5.0, magnitude=5.5))
        alert = add_alert(session, event, now, [(cell, mmi, 8.0)])
        session.commit()
        return alert.id


class Reader:
    """An SSE client: collects ``(id, data)`` of alert events and counts keep-alives."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.keepalives = 0
        self.closed = False

    async def read_until(self, predicate: Any, timeout_s: float = 5.0) -> None:
        async def run() -> None:
            block: dict[str, str] = {}
            while not predicate(self):
                line = await self.response.content.readline()
                if not line:
                    self.closed = True
                    return
                text = line.decode().rstrip("\n")
                if text == "":
                    if block.get("event") == "alert":
                        self.events.append((int(block["id"]), json.loads(block["data"])))
                    block = {}
                elif text.startswith(":"):
                    self.keepalives += 1
                else:
                    name, _, value = text.partition(": ")
                    block[name] = value

        await asyncio.wait_for(run(), timeout_s)

    @property
    def ids(self) -> list[int]:
        return [i for i, _ in self.events]


def run_with_server(settings: Settings, scenario: Any) -> Any:
    async def main() -> Any:
        server = TestServer(stream_server.make_app(settings), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession(
                base_url=str(server.make_url("/")), timeout=ClientTimeout(total=30)
            ) as http:
                return await scenario(http, server.app[stream_server.HUB])
        finally:
            await server.close()

    return asyncio.run(main())


async def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_history_then_live_alerts_then_resume_without_loss_or_duplicates(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    _, token = device(factory)
    _, elsewhere = device(factory, h3.latlng_to_cell(34.05, -118.24, 7))  # Los Angeles

    async def scenario(http: ClientSession, hub: stream_server.Hub) -> None:
        first = issue_alert(factory)  # before the stream: history
        async with http.get(
            stream_server.STREAM_PATH, params={"since": "0", "max_s": "5"}, headers=bearer(token)
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/event-stream"
            assert response.headers["Cache-Control"] == "no-store"
            reader = Reader(response)
            await reader.read_until(lambda r: r.ids == [first])
            second = issue_alert(factory)  # while connected: live, through the poller
            await reader.read_until(lambda r: len(r.ids) == 2)
            assert reader.ids == [first, second]
            assert reader.events[1][1]["predicted_mmi"] == 5.0
            assert reader.events[1][1]["warning_time_s"] > 0
        third = issue_alert(factory)  # while disconnected
        headers = {**bearer(token), "Last-Event-ID": str(second)}
        async with http.get(
            stream_server.STREAM_PATH, params={"since": "0", "max_s": "1"}, headers=headers
        ) as response:
            reader = Reader(response)
            fourth = issue_alert(factory)
            await reader.read_until(lambda r: r.closed)
            # Resumed after the last id received: nothing lost, nothing twice.
            assert reader.ids == [third, fourth]
        # A device outside the alert's cells gets nothing, on history or live.
        async with http.get(
            stream_server.STREAM_PATH,
            params={"since": "0", "max_s": "0.5"},
            headers=bearer(elsewhere),
        ) as response:
            reader = Reader(response)
            issue_alert(factory)
            await reader.read_until(lambda r: r.closed)
            assert reader.ids == []
        assert hub.count == 0

    run_with_server(settings, scenario)


def test_many_streams_each_get_a_new_alert_once(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    tokens = [device(factory)[1] for _ in range(30)]

    with factory() as session:
        since = str(alerts.latest_alert_id(session))

    async def scenario(http: ClientSession, hub: stream_server.Hub) -> None:
        params = {"max_s": "5", "since": since}
        responses = [
            await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(t))
            for t in tokens
        ]
        readers = [Reader(r) for r in responses]
        assert hub.count == len(tokens)
        alert_id = issue_alert(factory)
        await asyncio.gather(*(r.read_until(lambda r: bool(r.ids)) for r in readers))
        # Many more polls: no second copy may come.
        extra = await asyncio.gather(
            *(r.read_until(lambda r: len(r.ids) > 1, timeout_s=0.3) for r in readers),
            return_exceptions=True,
        )
        assert all(isinstance(e, TimeoutError) for e in extra)
        for response in responses:
            response.close()
        assert all(r.ids == [alert_id] for r in readers)

    run_with_server(settings, scenario)


class _FullSocket:
    """A stream's transport as it is when the client stops reading: the kernel's send buffer
    is full, so writes pile up in the transport's buffer."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.aborted = False

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())

    def get_write_buffer_size(self) -> int:
        return stream_server.WRITE_BUFFER_MAX + 1

    def write(self, data: bytes) -> None:
        raise AssertionError("nothing is written to a full socket")

    def abort(self) -> None:
        self.aborted = True
        self.transport.abort()


def test_a_client_that_does_not_read_is_dropped_and_the_others_are_served(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    slow_id, slow = device(factory)
    _, fast_token = device(factory)
    with factory() as session:
        since = str(alerts.latest_alert_id(session))

    async def scenario(http: ClientSession, hub: stream_server.Hub) -> None:
        params = {"max_s": "5", "since": since}
        stuck = await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(slow))
        served = await http.get(
            stream_server.STREAM_PATH, params=params, headers=bearer(fast_token)
        )
        stuck_reader, reader = Reader(stuck), Reader(served)
        (stream,) = hub.by_device[slow_id]
        await wait_for(lambda: stream.live)
        full = _FullSocket(stream.transport)
        stream.transport = full  # type: ignore[assignment]
        alert_id = issue_alert(factory)
        await reader.read_until(lambda r: r.ids == [alert_id])
        with contextlib.suppress(ClientError):  # a reset, or the end of the body
            await stuck_reader.read_until(lambda r: r.closed)
        await wait_for(lambda: hub.count == 1)
        assert full.aborted and hub.dropped == 1 and stuck_reader.ids == []
        served.close()

    run_with_server(settings, scenario)


def test_keep_alive_comments(
    settings: Settings, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_server, "KEEPALIVE_INTERVAL_S", 0.05)
    _, token = device(factory)
    with factory() as session:
        since = str(alerts.latest_alert_id(session))

    async def scenario(http: ClientSession, hub: stream_server.Hub) -> None:
        async with http.get(
            stream_server.STREAM_PATH,
            params={"max_s": "0.4", "since": since},
            headers=bearer(token),
        ) as response:
            reader = Reader(response)
            await reader.read_until(lambda r: r.closed)
            assert reader.keepalives >= 3
            assert reader.ids == []

    run_with_server(settings, scenario)


def test_per_device_cap_closes_the_oldest_and_total_cap_answers_503(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    settings = dataclasses.replace(settings, stream_max_per_device=2, stream_max_connections=3)
    _, token = device(factory)
    _, other = device(factory)

    async def scenario(http: ClientSession, hub: stream_server.Hub) -> None:
        params = {"max_s": "5"}
        oldest = await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(token))
        first = Reader(oldest)
        await first.read_until(lambda r: True)
        second = await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(token))
        third = await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(token))
        await first.read_until(lambda r: r.closed)  # the device's oldest stream was closed
        assert hub.count == 2
        fourth = await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(other))
        assert fourth.status == 200 and hub.count == 3
        busy = await http.get(stream_server.STREAM_PATH, params=params, headers=bearer(other))
        assert busy.status == 503
        assert busy.headers["Retry-After"] == str(stream_server.BUSY_RETRY_AFTER_S)
        assert busy.headers["Content-Type"].startswith("application/problem+json")
        for response in (oldest, second, third, fourth, busy):
            response.close()

    run_with_server(settings, scenario)


def test_authentication_and_validation(settings: Settings, factory: sessionmaker[Session]) -> None:
    device_id, token = device(factory)
    blocked_id, blocked = device(factory)
    with factory() as session:
        set_device_status(session, blocked_id, "blocked")
        session.commit()

    async def scenario(http: ClientSession, hub: stream_server.Hub) -> None:
        async def status(params: dict[str, str], headers: dict[str, str] | None = None) -> int:
            async with http.get(
                stream_server.STREAM_PATH, params=params, headers=headers or {}
            ) as response:
                if response.status != 200:
                    body = await response.json(content_type=None)
                    assert body["status"] == response.status
                return response.status

        ticket = stream_tickets.issue(settings.secret_key, device_id)
        assert await status({"ticket": ticket, "max_s": "0.1"}) == 200
        assert await status({"ticket": ticket + "0", "max_s": "0.1"}) == 401
        expired = stream_tickets.issue(settings.secret_key, device_id, now_s=0)
        assert await status({"ticket": expired}) == 401
        forged = stream_tickets.issue("other key", device_id)
        assert await status({"ticket": forged}) == 401
        assert await status({}) == 401
        assert await status({}, bearer("nonsense")) == 401
        assert await status({}, bearer(blocked)) == 403
        assert await status({"max_s": "0"}, bearer(token)) == 422
        assert await status({"max_s": "nan"}, bearer(token)) == 422
        assert await status({}, {**bearer(token), "Last-Event-ID": "x"}) == 422

    run_with_server(settings, scenario)
