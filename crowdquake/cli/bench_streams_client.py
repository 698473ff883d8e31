"""The SSE clients of ``crowdquake bench streams``: one asyncio process, raw sockets.

Reads ``{"api": "host:port", "tokens": [...], "concurrency": n}`` from stdin. Each client does
what a phone does: ``GET /api/v1/alerts/stream`` on the API with its bearer token, follows the
307 to the stream server (HTTP/1.0, so the body is close-delimited SSE), then reads events.
Writes ``open <n>`` once every stream is open (or ``failed <n> <reason>``) and one
``got <alert id> <unix time>`` line per alert event received, flushed at once.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from urllib.parse import urlsplit

OPEN_TIMEOUT_S = 30.0


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


async def _client(api: str, token: str, gate: asyncio.Semaphore, opened: list[int]) -> None:
    host, _, port = api.rpartition(":")
    async with gate:
        status, headers, _, writer = await _request(
            host,
            int(port),
            "/api/v1/alerts/stream?max_s=3600",
            {"Authorization": f"Bearer {token}", "Connection": "close"},
        )
        writer.close()
        if status != 307:
            raise RuntimeError(f"API answered {status}")
        location = urlsplit(headers["location"])
        path = f"{location.path}?{location.query}"
        status, _, reader, writer = await _request(
            location.hostname or host, location.port or 80, path, {}
        )
        if status != 200:
            raise RuntimeError(f"stream server answered {status}")
        opened[0] += 1
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"id: "):
            sys.stdout.write(f"got {int(line[4:])} {time.time():.6f}\n")
            sys.stdout.flush()


async def _main(config: dict[str, object]) -> None:
    tokens = list(config["tokens"])  # type: ignore[call-overload]
    gate = asyncio.Semaphore(int(config["concurrency"]))  # type: ignore[call-overload]
    opened = [0]
    tasks = [asyncio.create_task(_client(str(config["api"]), t, gate, opened)) for t in tokens]
    deadline = time.monotonic() + OPEN_TIMEOUT_S + len(tokens) / 500
    while opened[0] < len(tokens) and time.monotonic() < deadline:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            print(f"failed {opened[0]} {failed[0].exception()!r}", flush=True)
            break
        await asyncio.sleep(0.1)
    else:
        print(f"open {opened[0]}", flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(json.loads(sys.stdin.readline())))


if __name__ == "__main__":
    main()
