"""The SSE clients of ``crowdquake bench streams``: one asyncio process, raw sockets.

Reads ``{"api": "host:port", "stream": "host:port", "via_api": bool, "tokens": [...],
"concurrency": n}`` from stdin. With ``via_api`` each client does what a phone does against the
bare API: ``GET /api/v1/alerts/stream`` with its bearer token, then the 307 to the stream server;
otherwise it sends the bearer token to the stream server itself (a reverse proxy routing the path
there). HTTP/1.0, so the body is close-delimited SSE, read by an ``asyncio.Protocol`` per
connection (no coroutine wakes per event: the client must cost less than the server it
measures). Opens that have not succeeded when the open phase ends are cancelled.
Writes ``open <n>`` once every stream is open (or the open phase ended: ``open <n> <first
failure>``) and one ``got <alert id> <unix time>`` line per alert event received, stamped when the
client read it (written out every 50 ms).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any
from urllib.parse import urlsplit


async def _request(
    host: str, port: int, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"GET {path} HTTP/1.0", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    found: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode().strip()
        if not line:
            break
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return status, found, reader, writer


class _SSE(asyncio.Protocol):
    """One stream's connection: no coroutine, no line reader; each ``id:`` line in a segment
    read is a receipt, stamped when the segment arrived."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.head = b""
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.status.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status.set_result(int(self.head.split(b" ", 2)[1]))
            data = self.head[end + 4 :]
        data = self.tail + data
        cut = data.rfind(b"\n")
        self.tail = data[cut + 1 :]
        if b"id: " not in data:
            return
        now = time.time()
        for line in data[: cut + 1].split(b"\n"):
            if line.startswith(b"id: "):
                received.append(f"got {int(line[4:])} {now:.6f}\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(ConnectionError("closed before the response"))
        if not self.closed.done():
            self.closed.set_result(None)


async def _client(
    config: dict[str, Any], index: int, token: str, gate: asyncio.Semaphore, opened: set[int]
) -> None:
    path = "/api/v1/alerts/stream?max_s=3600"
    bearer = {"Authorization": f"Bearer {token}"}
    async with gate:
        if config["via_api"]:
            host, _, port = str(config["api"]).rpartition(":")
            status, headers, _, writer = await _request(
                host, int(port), path, {**bearer, "Connection": "close"}
            )
            writer.close()
            if status != 307:
                raise RuntimeError(f"API answered {status}")
            location = urlsplit(headers["location"])
            host, port = location.hostname or host, str(location.port or 80)
            path, bearer = f"{location.path}?{location.query}", {}
        else:
            host, _, port = str(config["stream"]).rpartition(":")
        lines = [f"GET {path} HTTP/1.0", f"Host: {host}:{port}"]
        lines += [f"{k}: {v}" for k, v in bearer.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_connection(lambda: _SSE(request), host, int(port))
        try:
            status = await protocol.status
        except BaseException:
            transport.close()
            raise
        if status != 200:
            transport.close()
            raise RuntimeError(f"stream server answered {status}")
        opened.add(index)
    try:
        await protocol.closed
    finally:
        transport.close()


# Receipt lines, stamped when read and written out in bulk: one flush per event and stream
# would cost 10,000 system calls in the middle of the measurement.
received: list[str] = []


async def _report_received() -> None:
    while True:
        await asyncio.sleep(0.05)
        if received:
            sys.stdout.write("".join(received))
            sys.stdout.flush()
            received.clear()


async def _main(config: dict[str, Any]) -> None:
    tokens = list(config["tokens"])
    gate = asyncio.Semaphore(int(config["concurrency"]))
    opened: set[int] = set()
    tasks = [asyncio.create_task(_client(config, i, t, gate, opened)) for i, t in enumerate(tokens)]
    deadline = time.monotonic() + float(config["open_timeout_s"])
    failure = ""
    while len(opened) < len(tokens) and time.monotonic() < deadline:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            failure = repr(failed[0].exception())
            break
        await asyncio.sleep(0.1)
    if len(opened) < len(tokens):
        # Stop opening: the measurement runs with what is open, nothing else competes.
        for index, task in enumerate(tasks):
            if index not in opened:
                task.cancel()
        await asyncio.sleep(1.0)
    print(f"open {len(opened)} {failure}".strip(), flush=True)
    reporter = asyncio.create_task(_report_received())
    await asyncio.gather(*tasks, return_exceptions=True)
    reporter.cancel()


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(json.loads(sys.stdin.readline())))


if __name__ == "__main__":
    main()
