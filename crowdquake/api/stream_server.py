"""The alert stream server: ``GET /api/v1/alerts/stream`` (Server-Sent Events) on asyncio.

Phones waiting for alerts are the largest audience of the service, so open streams are the
normal case. They are served here, in their own process(es) next to gunicorn, never by a
gunicorn worker: an open stream costs a socket and a small object, not a thread or a process,
and cannot take a request slot from ingest.

- One poller per process, not per stream: every ``POLL_INTERVAL_S`` one indexed query reads the
  deliverable alerts of the last ``RECENT_WINDOW_S`` (a short window rather than "id above the
  last one", so an alert whose transaction committed after one with a larger id is not missed).
  A new alert costs one bulk read of the open streams' heartbeat cells and one forecast per
  distinct cell; each concerned stream gets it through its own queue.
- On connect, a stream first registers (so nothing committed from then on can pass it by), then
  sends the device's alerts after ``Last-Event-ID`` (or ``since``) from the database: the same
  query as ``GET /alerts``. Alert ids already sent on the stream are skipped, so an alert is
  never sent twice on one stream; resuming with the last id received loses nothing.
- ``: keep-alive`` comments every ``KEEPALIVE_INTERVAL_S``; the stream closes after ``max_s``.
- Caps: ``CROWDQUAKE_STREAM_MAX_CONNECTIONS`` per process (more: 503 + Retry-After) and
  ``CROWDQUAKE_STREAM_MAX_PER_DEVICE`` per device (a new stream closes the device's oldest: a
  phone that changed networks must not be locked out by its own dead connection).
- Authentication: ``Authorization: Bearer <device token>`` (a reverse proxy routes the path here)
  or ``?ticket=`` (the API's 307 redirect, ``crowdquake.api.stream_tickets``).

The database is only touched from a small thread pool (SQLAlchemy is synchronous); the event
loop never blocks on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.api import stream_tickets
from crowdquake.api.alert_schemas import AlertQuery, DeviceAlertOut, StreamQuery
from crowdquake.api.problems import PROBLEM_MIME, field_errors, problem_document
from crowdquake.config import Settings
from crowdquake.services import alerts
from crowdquake.services.devices import authenticate_device
from crowdquake.services.errors import FieldError, ServiceError
from crowdquake.services.ports import Clock, SystemClock
from crowdquake.storage.session import make_engine, make_session_factory

log = logging.getLogger(__name__)
T = TypeVar("T")

SSE_MIME = "text/event-stream"
STREAM_PATH = "/api/v1/alerts/stream"
POLL_INTERVAL_S = 0.25
RECENT_WINDOW_S = 120.0
KEEPALIVE_INTERVAL_S = 15.0
RECONNECT_MS = 2000
BUSY_RETRY_AFTER_S = 5
DB_THREADS = 4


def sse_event(found: alerts.DeviceAlert) -> bytes:
    """One ``alert`` event; JSON has no raw newlines, so one ``data:`` line is enough."""
    data = DeviceAlertOut.of(found).model_dump_json()
    return f"id: {found.alert.alert_id}\nevent: alert\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class Stream:
    device_id: uuid.UUID
    opened_at: float
    queue: asyncio.Queue[alerts.DeviceAlert | None] = field(default_factory=asyncio.Queue)
    sent: set[int] = field(default_factory=set)

    def close(self) -> None:
        self.queue.put_nowait(None)


class Hub:
    """The open streams of this process and the poller that feeds them."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        max_connections: int,
        max_per_device: int,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.max_connections = max_connections
        self.max_per_device = max_per_device
        self.by_device: dict[uuid.UUID, list[Stream]] = {}
        self.count = 0
        self.seen: dict[int, float] = {}  # alert id -> monotonic time first seen
        self.executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="stream-db")
        # The poller has a thread of its own: a wave of (re)connecting streams queues thousands
        # of authentication and history reads, and a new alert must not wait behind them.
        self.poll_executor = ThreadPoolExecutor(1, thread_name_prefix="stream-poll")
        self.delivered = 0

    async def db(self, fn: Callable[[Session], T], *, poller: bool = False) -> T:
        def run() -> T:
            with self.factory() as session:
                return fn(session)

        executor = self.poll_executor if poller else self.executor
        return await asyncio.get_running_loop().run_in_executor(executor, run)

    def full(self) -> bool:
        return self.count >= self.max_connections

    def open(self, device_id: uuid.UUID) -> Stream:
        stream = Stream(device_id, time.monotonic())
        streams = self.by_device.setdefault(device_id, [])
        streams.append(stream)
        self.count += 1
        while len(streams) > self.max_per_device:
            streams.pop(0).close()
            self.count -= 1
        return stream

    def release(self, stream: Stream) -> None:
        streams = self.by_device.get(stream.device_id)
        if streams and stream in streams:
            streams.remove(stream)
            self.count -= 1
            if not streams:
                del self.by_device[stream.device_id]

    async def prime(self) -> None:
        """Alerts already issued when the process starts are not news for live streams."""
        now = self.clock.now()
        for alert in await self.db(lambda s: alerts.recent_issued_alerts(s, now, RECENT_WINDOW_S)):
            self.seen[alert.alert_id] = time.monotonic()

    async def poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # a database outage: keep the streams, try again
                log.exception("alert poll failed")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def poll_once(self) -> int:
        started = time.monotonic()
        now = self.clock.now()
        recent = await self.db(
            lambda s: alerts.recent_issued_alerts(s, now, RECENT_WINDOW_S), poller=True
        )
        fresh = [a for a in recent if a.alert_id not in self.seen]
        horizon = time.monotonic() - 2 * RECENT_WINDOW_S
        self.seen = {k: t for k, t in self.seen.items() if t >= horizon}
        if not fresh:
            return 0
        for alert in fresh:
            self.seen[alert.alert_id] = time.monotonic()
        devices = list(self.by_device)
        cells = (
            await self.db(lambda s: alerts.device_cells(s, devices), poller=True) if devices else {}
        )
        by_cell: dict[str, list[uuid.UUID]] = {}
        for device_id, cell in cells.items():
            by_cell.setdefault(cell, []).append(device_id)
        sent = 0
        for alert in fresh:
            coverage = alerts.AlertCoverage(alert.cells)
            for cell, device_ids in by_cell.items():
                found = alerts.device_alert(alert, coverage, cell, now)
                if found is None:
                    continue
                for device_id in device_ids:
                    for stream in self.by_device.get(device_id, ()):
                        stream.queue.put_nowait(found)
                        sent += 1
        log.info(
            "alerts %s: queued for %d of %d streams %.3f s after the poll started",
            [a.alert_id for a in fresh],
            sent,
            self.count,
            time.monotonic() - started,
        )
        return sent


def _problem(
    request: web.Request,
    status: int,
    title: str,
    detail: str,
    errors: tuple[FieldError, ...] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = problem_document(status, title, detail, errors, request.path)
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=PROBLEM_MIME,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _since(request: web.Request, query: StreamQuery) -> int | None:
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return query.since
    try:
        return AlertQuery.model_validate({"since": raw}).since
    except ValidationError:
        raise _Invalid(
            (FieldError("Last-Event-ID", "must be an alert id (integer >= 0)", "int_parsing"),)
        ) from None


class _Invalid(Exception):
    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        self.errors = errors


async def _device(request: web.Request, hub: Hub, settings: Settings) -> uuid.UUID:
    ticket = request.query.get("ticket")
    if ticket is not None:
        device_id = stream_tickets.verify(settings.secret_key, ticket)
        if device_id is None:
            raise _Denied(401, "invalid or expired stream ticket")
        return device_id
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = raw.strip() if scheme.lower() == "bearer" else None
    try:
        device = await hub.db(lambda s: authenticate_device(s, token))
    except ServiceError as exc:
        raise _Denied(exc.status, str(exc)) from None
    return device.device_id


class _Denied(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail


async def stream_alerts(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app[HUB]
    settings: Settings = request.app[SETTINGS]
    try:
        device_id = await _device(request, hub, settings)
        query = StreamQuery.model_validate({k: v for k, v in request.query.items()})
        since = _since(request, query)
    except _Denied as exc:
        title = "Unauthorized" if exc.status == 401 else "Forbidden"
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _problem(request, exc.status, title, exc.detail, headers=headers)
    except ValidationError as exc:
        return _problem(
            request, 422, "Unprocessable Content", "invalid query parameters", field_errors(exc)
        )
    except _Invalid as exc:
        return _problem(
            request, 422, "Unprocessable Content", "invalid Last-Event-ID header", exc.errors
        )
    if hub.full():
        return _problem(
            request,
            503,
            "Service Unavailable",
            "too many open alert streams on this server; retry later",
            headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
        )
    stream = hub.open(device_id)
    try:
        return await _serve(request, hub, stream, since, query.max_s)
    finally:
        hub.release(stream)


async def _serve(
    request: web.Request, hub: Hub, stream: Stream, since: int | None, max_s: float
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": SSE_MIME,
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx would otherwise buffer the stream
        }
    )
    await response.prepare(request)
    deadline = stream.opened_at + max_s
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
        now = hub.clock.now()
        page = await hub.db(
            lambda s: alerts.alerts_for_device(s, stream.device_id, now=now, since_id=since)
        )
        for found in page.alerts:
            stream.sent.add(found.alert.alert_id)
            await response.write(sse_event(found))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = await asyncio.wait_for(
                    stream.queue.get(), timeout=min(left, KEEPALIVE_INTERVAL_S)
                )
            except TimeoutError:
                if time.monotonic() < deadline:
                    await response.write(b": keep-alive\n\n")
                continue
            if item is None:  # replaced by a newer stream of the same device
                break
            if item.alert.alert_id in stream.sent:
                continue
            stream.sent.add(item.alert.alert_id)
            await response.write(sse_event(item))
            hub.delivered += 1
    return response


async def healthz(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    return web.json_response({"status": "ok", "streams": hub.count})


HUB = web.AppKey("hub", Hub)
SETTINGS = web.AppKey("settings", Settings)


def make_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    engine = make_engine(settings.database_url)
    hub = Hub(
        make_session_factory(engine),
        clock or SystemClock(),
        settings.stream_max_connections,
        settings.stream_max_per_device,
    )
    app = web.Application()
    app[HUB] = hub
    app[SETTINGS] = settings
    app.router.add_get(STREAM_PATH, stream_alerts)
    app.router.add_get("/healthz", healthz)

    async def lifecycle(app: web.Application) -> Any:
        await hub.prime()
        poller = asyncio.create_task(hub.poll_forever())
        yield
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        hub.executor.shutdown(wait=False)
        hub.poll_executor.shutdown(wait=False)
        engine.dispose()

    app.cleanup_ctx.append(lifecycle)
    return app


def listening_socket(bind: str) -> socket.socket:
    """Bind ``host:port``. ``crowdquake serve`` binds once and hands the socket to each stream
    process, so a port already in use fails at start, loudly, instead of being shared."""
    host, _, port = bind.rpartition(":")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]") or "0.0.0.0", int(port)))
    sock.listen(4096)
    return sock


def run(settings: Settings, sock: socket.socket) -> None:
    """Serve on ``sock`` until SIGTERM/SIGINT."""
    import resource

    # Each open stream is a file descriptor: use all the hard limit allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sock.setblocking(False)
    web.run_app(
        make_app(settings),
        sock=sock,
        print=None,
        access_log=None,  # URLs carry tickets; device ids and IPs stay out of the logs
        shutdown_timeout=1.0,
        handle_signals=True,
    )
