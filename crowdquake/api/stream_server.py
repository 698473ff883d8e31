"""The alert stream server: ``GET /api/v1/alerts/stream`` (Server-Sent Events) on asyncio.

Phones waiting for alerts are the largest audience of the service, so open streams are the
normal case (tens of thousands per process). They are served here, in their own process(es)
next to gunicorn, never by a gunicorn worker: an open stream costs a socket, a small object and
an idle coroutine, not a thread or a process, and cannot take a request slot from ingest.

- One poller per process, not per stream: every ``POLL_INTERVAL_S`` one cheap indexed query
  lists the ids and event statuses of the alerts issued in the last hour (the history a stream
  may resend); only ids not seen before are read in full. The process keeps those alerts in
  memory (``Hub.recent``).
- Fan-out in memory, one encoding per alert and cell: a new alert is matched against the cells
  of the open streams (each stream's device cell, read when it opens and refreshed every
  ``CELL_REFRESH_S``: a heartbeat cell is itself minutes old), encoded once per distinct cell,
  and the hub writes the same bytes to every concerned stream's socket itself: no coroutine
  per stream wakes. Nothing waits for a client: a stream whose unsent bytes exceed
  ``WRITE_BUFFER_MAX`` (the kernel's socket buffer is full: the client does not read) is
  aborted, and reconnects later with ``Last-Event-ID``.
- Opening costs no query of its own: opening streams are resolved in batches (token check,
  status and heartbeat cell of up to ``OPEN_BATCH_MAX`` devices in one read), and the history
  after ``Last-Event-ID`` (or ``since``) is computed from the alerts in memory with the rules of
  ``GET /alerts``. A stream registers and takes its history in one step of the event loop, and
  the poller adds a new alert to memory and fans it out in one step too, so every alert is
  either in the history or fanned out to the stream. Alert ids already sent on a stream are
  skipped, so an alert is never sent twice on one stream; resuming with the last id received
  loses nothing.
- ``: keep-alive`` comments after ``KEEPALIVE_INTERVAL_S`` without a write, from one sweeper
  task (no per-stream timer), which also ends the streams whose client went away; the stream
  closes after ``max_s``.
- Caps: ``CROWDQUAKE_STREAM_MAX_CONNECTIONS`` per process (more: 503 + Retry-After) and
  ``CROWDQUAKE_STREAM_MAX_PER_DEVICE`` per device (a new stream closes the device's oldest: a
  phone that changed networks must not be locked out by its own dead connection).
- Authentication: ``Authorization: Bearer <device token>`` (a reverse proxy routes the path here)
  or ``?ticket=`` (the API's 307 redirect, ``crowdquake.api.stream_tickets``).

The database is only touched from small thread pools (SQLAlchemy is synchronous); the event
loop never blocks on it. The poller has a thread of its own, so a wave of opening streams never
delays a new alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import HttpVersion11, web
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.api import stream_tickets
from crowdquake.api.alert_schemas import AlertQuery, DeviceAlertOut, StreamQuery
from crowdquake.api.problems import PROBLEM_MIME, field_errors, problem_document
from crowdquake.config import Settings
from crowdquake.services import alerts
from crowdquake.services.devices import AuthenticatedDevice, authenticate_devices
from crowdquake.services.errors import FieldError, ServiceError
from crowdquake.services.ports import Clock, SystemClock
from crowdquake.storage.session import make_engine, make_session_factory

log = logging.getLogger(__name__)
T = TypeVar("T")

SSE_MIME = "text/event-stream"
STREAM_PATH = "/api/v1/alerts/stream"
POLL_INTERVAL_S = 0.25
KEEPALIVE_INTERVAL_S = 15.0
KEEPALIVE = b": keep-alive\n\n"
CELL_REFRESH_S = 30.0
RECONNECT_MS = 2000
BUSY_RETRY_AFTER_S = 5
DB_RETRY_AFTER_S = 2
DB_THREADS = 2
OPEN_BATCH_MAX = 500
# Frames waiting for a stream that is not live yet: its history (``GET /alerts``'s limit) and
# the alerts of that moment.
QUEUE_MAX = alerts.DEFAULT_LIMIT + 28
# Bytes the kernel would not take for one client (its socket buffer is full): it does not read.
WRITE_BUFFER_MAX = 64 * 1024
SWEEP_SLICE = 500  # streams handled between two yields to the event loop


def sse_event(found: alerts.DeviceAlert) -> bytes:
    """One ``alert`` event; JSON has no raw newlines, so one ``data:`` line is enough."""
    data = DeviceAlertOut.of(found).model_dump_json()
    return f"id: {found.alert.alert_id}\nevent: alert\ndata: {data}\n\n".encode()


def chunk(frame: bytes) -> bytes:
    """``frame`` as one HTTP/1.1 chunk (a stream to an HTTP/1.1 client is chunked)."""
    return b"%x\r\n%s\r\n" % (len(frame), frame)


KEEPALIVE_CHUNK = chunk(KEEPALIVE)


@dataclass(eq=False)
class Stream:
    """One open stream. Until it is live (headers, ``retry:`` and history written by its
    handler) frames wait in ``pending``; from then on the hub writes to the socket itself, so
    a new alert or a keep-alive wakes no coroutine."""

    device_id: uuid.UUID
    cell: str | None
    opened_at: float
    done: asyncio.Future[None]
    sent: set[int] = field(default_factory=set)
    pending: list[bytes] = field(default_factory=list)
    last_write: float = field(default_factory=time.monotonic)
    transport: asyncio.Transport | None = None
    chunked: bool = False
    live: bool = False
    deadline: asyncio.TimerHandle | None = None

    def send(self, alert_id: int, frame: bytes, framed: bytes) -> bool:
        """Write one SSE frame (``framed``: the same as a chunk) without waiting; alert id 0
        for a comment. False when the client does not read (the caller drops it)."""
        if self.done.done():
            return True
        if alert_id:
            if alert_id in self.sent:
                return True
            self.sent.add(alert_id)
        if not self.live:
            self.pending.append(frame)
            return len(self.pending) <= QUEUE_MAX
        transport = self.transport
        if transport is None or transport.is_closing():  # the client went away
            self.end()
            return True
        if transport.get_write_buffer_size() > WRITE_BUFFER_MAX:
            return False
        transport.write(framed if self.chunked else frame)
        self.last_write = time.monotonic()
        return True

    def end(self) -> None:
        """Finish the response (deadline, replaced by a newer stream, client gone)."""
        if not self.done.done():
            self.done.set_result(None)

    def abort(self) -> None:
        """Drop the connection now (a client that does not read)."""
        if self.transport is not None:
            self.transport.abort()
        self.end()


@dataclass(frozen=True)
class _Opening:
    """A stream waiting for its device: by bearer token, or by a ticket's device id."""

    token: str | None
    device_id: uuid.UUID | None


class Hub:
    """The open streams of this process, the alerts in memory and the tasks that feed them."""

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
        self.recent: dict[int, alerts.IssuedAlert] = {}  # the last hour's alerts, by id
        self.history: list[alerts.IssuedAlert] = []  # the same, ordered by id
        self.primed = False
        self.executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="stream-db")
        self.poll_executor = ThreadPoolExecutor(1, thread_name_prefix="stream-poll")
        self.opening: list[tuple[_Opening, asyncio.Future[tuple[Any, str | None]]]] = []
        self.resolver: asyncio.Task[None] | None = None
        self.delivered = 0
        self.dropped = 0

    async def db(self, fn: Callable[[Session], T], *, poller: bool = False) -> T:
        def run() -> T:
            with self.factory() as session:
                return fn(session)

        executor = self.poll_executor if poller else self.executor
        return await asyncio.get_running_loop().run_in_executor(executor, run)

    # --- opening -------------------------------------------------------------------------

    async def resolve(self, opening: _Opening) -> tuple[uuid.UUID, str | None]:
        """The device and heartbeat cell of an opening stream (batched with the other openings
        waiting at the same time); raises ServiceError (401/403) like ``authenticate_device``."""
        future: asyncio.Future[tuple[Any, str | None]] = asyncio.get_running_loop().create_future()
        self.opening.append((opening, future))
        if self.resolver is None or self.resolver.done():
            self.resolver = asyncio.create_task(self._resolve_waiting())
        found, cell = await future
        if isinstance(found, ServiceError):
            raise found
        return found, cell

    async def _resolve_waiting(self) -> None:
        while self.opening:
            batch = self.opening[:OPEN_BATCH_MAX]
            del self.opening[:OPEN_BATCH_MAX]
            openings = [o for o, _ in batch]
            try:
                results = await self.db(functools.partial(_resolve, openings=openings))
            except Exception as exc:  # the database is down: each waiting stream gets a 503
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # else: the client went away meanwhile
                    future.set_result(result)

    def full(self) -> bool:
        return self.count >= self.max_connections

    def open(
        self, device_id: uuid.UUID, cell: str | None, since: int | None, max_s: float
    ) -> Stream:
        """Register a stream and queue its history, in one step (no await: see the module)."""
        loop = asyncio.get_running_loop()
        stream = Stream(device_id, cell, time.monotonic(), loop.create_future())
        streams = self.by_device.setdefault(device_id, [])
        streams.append(stream)
        self.count += 1
        while len(streams) > self.max_per_device:
            self._forget(streams.pop(0))
            self.count -= 1
        history = alerts.device_history(
            self.history,
            cell,
            now=self.clock.now(),
            since_id=since,
        )
        for found in history:
            frame = sse_event(found)
            stream.send(found.alert.alert_id, frame, frame)
        stream.deadline = loop.call_later(max_s, stream.end)
        return stream

    def _forget(self, stream: Stream) -> None:
        stream.end()
        if stream.deadline is not None:
            stream.deadline.cancel()

    def release(self, stream: Stream) -> None:
        if stream.deadline is not None:
            stream.deadline.cancel()
        streams = self.by_device.get(stream.device_id)
        if streams and stream in streams:
            streams.remove(stream)
            self.count -= 1
            if not streams:
                del self.by_device[stream.device_id]

    # --- new alerts ----------------------------------------------------------------------

    async def poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # a database outage: keep the streams, try again
                log.exception("alert poll failed")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def poll_once(self) -> int:
        """Read the new alerts, keep them in memory, fan them out; returns frames queued."""
        started = time.monotonic()
        now = self.clock.now()
        known = set(self.recent)
        oldest = now - timedelta(seconds=alerts.DEFAULT_MAX_AGE_S)

        def read(session: Session) -> tuple[dict[int, str], list[alerts.IssuedAlert]]:
            statuses = alerts.alert_statuses(session, oldest)
            unseen = [alert_id for alert_id in statuses if alert_id not in known]
            return statuses, alerts.issued_alerts_by_id(session, unseen)

        statuses, unseen = await self.db(read, poller=True)
        read_s = time.monotonic() - started
        # From here to the end of the fan-out: one step of the event loop (no await).
        changed = False
        for alert_id, alert in list(self.recent.items()):
            status = statuses.get(alert_id)
            if status is None:  # older than the history
                del self.recent[alert_id]
                changed = True
            elif status != alert.event_status:  # withdrawn (or reinstated) since
                self.recent[alert_id] = replace(alert, event_status=status)
                changed = True
        fresh = [a for a in unseen if a.alert_id not in self.recent]
        for alert in fresh:
            self.recent[alert.alert_id] = alert
        if changed or fresh:
            self.history = sorted(self.recent.values(), key=lambda a: a.alert_id)
        if not fresh or not self.primed:
            self.primed = True  # alerts issued before the process started are history only
            return 0
        cpu_started = time.thread_time()
        queued = self.fan_out(fresh, now)
        self.delivered += queued
        # CPU seconds next to wall seconds: on a busy machine the gap is time waiting for a core.
        log.info(
            "alerts %s: written to %d of %d streams %.3f s after the poll started "
            "(read %.3f s, fan-out %.3f s, fan-out CPU %.3f s)",
            [a.alert_id for a in fresh],
            queued,
            self.count,
            time.monotonic() - started,
            read_s,
            time.monotonic() - started - read_s,
            time.thread_time() - cpu_started,
        )
        return queued

    def fan_out(self, fresh: list[alerts.IssuedAlert], now: Any) -> int:
        queued = 0
        for alert in fresh:
            coverage = alerts.AlertCoverage(alert.cells)
            # device cell -> this alert's event for it (as is, and as a chunk)
            frames: dict[str, tuple[bytes, bytes] | None] = {}
            for streams in self.by_device.values():
                for stream in streams:
                    cell = stream.cell
                    if cell is None:
                        continue
                    if cell not in frames:
                        found = alerts.device_alert(alert, coverage, cell, now)
                        frame = None if found is None else sse_event(found)
                        frames[cell] = None if frame is None else (frame, chunk(frame))
                    encoded = frames[cell]
                    if encoded is None:
                        continue
                    if stream.send(alert.alert_id, *encoded):
                        queued += 1
                    else:
                        stream.abort()
                        self.dropped += 1
        return queued

    # --- upkeep --------------------------------------------------------------------------

    async def refresh_cells_forever(self) -> None:
        """Follow devices that moved: re-read the heartbeat cells of the open streams."""
        while True:
            await asyncio.sleep(CELL_REFRESH_S)
            devices = list(self.by_device)
            try:
                cells = await self.db(functools.partial(alerts.device_cells, device_ids=devices))
            except Exception:
                log.exception("heartbeat cell refresh failed")
                continue
            for device_id, cell in cells.items():
                for stream in self.by_device.get(device_id, ()):
                    stream.cell = cell

    async def keep_alive_forever(self) -> None:
        """A comment on every stream idle for ``KEEPALIVE_INTERVAL_S`` (proxies and NATs
        close silent connections); also ends the streams whose client went away."""
        while True:
            interval = KEEPALIVE_INTERVAL_S
            await asyncio.sleep(min(1.0, interval / 4))
            due = time.monotonic() - interval
            handled = 0
            for streams in list(self.by_device.values()):
                for stream in streams:
                    if not stream.live:
                        continue
                    if stream.transport is None or stream.transport.is_closing():
                        stream.end()  # the client went away: free its slot now
                    elif stream.last_write <= due and not stream.send(
                        0, KEEPALIVE, KEEPALIVE_CHUNK
                    ):
                        stream.abort()
                        self.dropped += 1
                handled += len(streams)
                if handled >= SWEEP_SLICE:
                    handled = 0
                    await asyncio.sleep(0)


def _resolve(
    session: Session, openings: list[_Opening]
) -> list[tuple[uuid.UUID | ServiceError, str | None]]:
    """Device (or the authentication error) and heartbeat cell of each opening stream."""
    by_token = [o.token for o in openings if o.device_id is None]
    authenticated = iter(authenticate_devices(session, by_token))
    devices: list[uuid.UUID | ServiceError] = []
    for opening in openings:
        if opening.device_id is not None:
            devices.append(opening.device_id)
            continue
        found: AuthenticatedDevice | ServiceError = next(authenticated)
        devices.append(found.device_id if isinstance(found, AuthenticatedDevice) else found)
    cells = alerts.device_cells(session, [d for d in devices if isinstance(d, uuid.UUID)])
    return [(d, cells.get(d) if isinstance(d, uuid.UUID) else None) for d in devices]


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


async def _device(
    request: web.Request, hub: Hub, settings: Settings
) -> tuple[uuid.UUID, str | None]:
    """The stream's device and its heartbeat cell."""
    ticket = request.query.get("ticket")
    if ticket is not None:
        device_id = stream_tickets.verify(settings.secret_key, ticket)
        if device_id is None:
            raise _Denied(401, "invalid or expired stream ticket")
        return await hub.resolve(_Opening(None, device_id))
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    token = raw.strip() if scheme.lower() == "bearer" else None
    try:
        return await hub.resolve(_Opening(token or None, None))
    except ServiceError as exc:
        raise _Denied(exc.status, str(exc)) from None


class _Denied(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail


async def stream_alerts(request: web.Request) -> web.StreamResponse:
    hub: Hub = request.app[HUB]
    settings: Settings = request.app[SETTINGS]
    try:
        device_id, cell = await _device(request, hub, settings)
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
    except Exception:  # the database is unreachable: the client retries later
        log.exception("stream open failed")
        return _problem(
            request,
            503,
            "Service Unavailable",
            "the database is unavailable; retry later",
            headers={"Retry-After": str(DB_RETRY_AFTER_S)},
        )
    if hub.full():
        return _problem(
            request,
            503,
            "Service Unavailable",
            "too many open alert streams on this server; retry later",
            headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
        )
    stream = hub.open(device_id, cell, since, query.max_s)
    try:
        return await _serve(request, hub, stream)
    finally:
        hub.release(stream)


async def _serve(request: web.Request, hub: Hub, stream: Stream) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": SSE_MIME,
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx would otherwise buffer the stream
        }
    )
    chunked = request.version >= HttpVersion11  # HTTP/1.0: the body ends with the connection
    if chunked:
        response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        head = f"retry: {RECONNECT_MS}\n\n".encode()
        while True:
            frames, stream.pending = stream.pending, []
            hub.delivered += sum(1 for f in frames if f.startswith(b"id: "))
            await response.write(head + b"".join(frames))
            head = b""
            if not stream.pending:
                break
        # No await since the last pending frame was taken: from now on the hub writes.
        transport = request.transport
        if transport is None or transport.is_closing():
            return response
        stream.transport = transport
        stream.chunked = chunked
        stream.live = True
        stream.last_write = time.monotonic()
        await stream.done
    return response


async def healthz(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    return web.json_response(
        {"status": "ok", "streams": hub.count, "delivered": hub.delivered, "dropped": hub.dropped}
    )


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
        with contextlib.suppress(Exception):  # no database yet: the poller keeps trying
            await hub.poll_once()  # the alerts issued before the start: history, not news
        tasks = [
            asyncio.create_task(hub.poll_forever()),
            asyncio.create_task(hub.keep_alive_forever()),
            asyncio.create_task(hub.refresh_cells_forever()),
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
