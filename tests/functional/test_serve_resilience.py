"""``crowdquake serve`` survives its own process management: HUP reloads and killed workers.

gunicorn forks its workers inside ``Application.run()``; a worker that exits gracefully (after
HUP, SIGTERM, a timeout) unwinds through ``serve``'s cleanup too. These tests restart workers
in every way and check the API answers throughout and that ``/metrics`` (whose multiprocess
folder the workers share) still works afterwards.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.storage import migrate
from tests.functional.live import start, wait_for

pytestmark = [pytest.mark.slow]


def _children(pid: int) -> set[int]:
    """gunicorn's live workers: child processes of ``pid`` other than the stream server."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"stream" not in argv:  # an argument, not a path that contains the word
                found.add(int(entry.name))
    return found


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    migrate.upgrade(url)
    port = free_port()
    env = {
        "CROWDQUAKE_DATABASE_URL": url,
        "CROWDQUAKE_INSTANCE_DIR": str(tmp_path),
        "CROWDQUAKE_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        "CROWDQUAKE_WEB_WORKERS": "2",
        "CROWDQUAKE_WEB_THREADS": "1",
    }
    process = start(["serve", "--bind", f"127.0.0.1:{port}"], env, tmp_path / "web.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout_s=30, path="/healthz")
        wait_for(lambda: len(_children(process.pid)) == 2 or None, 20, "two web workers")
        yield {"base": base, "pid": process.pid, "process": process, "log": tmp_path / "web.log"}
    finally:
        stop(process)


# A replaced worker builds the app (0.2 s on a loaded 2-core machine) before its first answer.
MAX_LATENCY_S = 2.0


def _serving_through(base: str, seconds: float) -> list[float]:
    """Poll /healthz for ``seconds``; every answer must be 200. Returns latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=5.0) as http:
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = http.get("/healthz")
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            time.sleep(0.05)
    return latencies


def _metrics_ok(base: str) -> None:
    response = httpx.get(base + "/metrics", timeout=5.0)
    assert response.status_code == 200, response.text
    assert "crowdquake_http_requests" in response.text


def test_hup_reloads_workers_and_keeps_serving(server: dict[str, Any]) -> None:
    before = _children(server["pid"])
    _metrics_ok(server["base"])
    os.kill(server["pid"], signal.SIGHUP)
    latencies = _serving_through(server["base"], 6.0)
    assert max(latencies) < MAX_LATENCY_S, max(latencies)
    after = wait_for(
        lambda: (c := _children(server["pid"])) and len(c) == 2 and not (c & before) and c,
        20,
        "two new workers after HUP",
    )
    assert server["process"].poll() is None, "the master exited after HUP"
    # A second reload: the bug showed once the first generation had removed the shared folder.
    os.kill(server["pid"], signal.SIGHUP)
    _serving_through(server["base"], 4.0)
    wait_for(
        lambda: (c := _children(server["pid"])) and len(c) == 2 and not (c & after) and c,
        20,
        "two new workers after the second HUP",
    )
    _metrics_ok(server["base"])
    assert "Traceback" not in server["log"].read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_worker_is_replaced_and_api_keeps_serving(
    server: dict[str, Any], sig: signal.Signals
) -> None:
    workers = sorted(_children(server["pid"]))
    os.kill(workers[0], sig)
    latencies = _serving_through(server["base"], 3.0)
    assert max(latencies) < MAX_LATENCY_S, max(latencies)
    wait_for(
        lambda: (c := _children(server["pid"])) and len(c) == 2 and workers[0] not in c,
        20,
        "a replacement worker",
    )
    # The replacement and the survivor both still serve and report metrics.
    _serving_through(server["base"], 2.0)
    _metrics_ok(server["base"])
    assert server["process"].poll() is None, "the master exited after a worker died"
    assert "Traceback" not in server["log"].read_text()
