"""The SSE clients of ``crowdquake bench streams``: one asyncio process, raw sockets.

Reads ``{"api": "host:port", "stream": "host:port", "via_api": bool, "tokens": [...],
"concurrency": n}`` from stdin. With ``via_api`` each client does what a phone does against the
bare API: ``GET /api/v1/alerts/stream`` with its bearer token, then the 307 to the stream server;
otherwise it sends the bearer token to the stream server itself (a reverse proxy routing the path
there). HTTP/1.0, so the body is close-delimited SSE. Opens that have not succeeded when the
open phase ends are cancelled.
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
            status, _, reader, writer = await _request(
                location.hostname or host,
                location.port or 80,
                f"{location.path}?{location.query}",
                {},
            )
        else:
            host, _, port = str(config["stream"]).rpartition(":")
            status, _, reader, writer = await _request(host, int(port), path, bearer)
        if status != 200:
            raise RuntimeError(f"stream server answered {status}")
        opened.add(index)
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"id: "):
            received.append(f"got {int(line[4:])} {time.time():.6f}\n")


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
