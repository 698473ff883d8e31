"""Helpers shared by the subcommands: settings, logging, child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click
import httpx

from crowdquake.config import Settings
from crowdquake.logs import configure_logging


def load_settings() -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def spawn(
    args: Sequence[str], env: dict[str, str] | None = None, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child in its own process group so it can be stopped with everything it started;
    its output goes to ``log_path`` when given."""
    output = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        output = log_path.open("ab")
    try:
        return subprocess.Popen(
            list(args),
            env={**os.environ, **(env or {})},
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
    finally:
        if output is not None:
            output.close()


def stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM the child's group, then SIGKILL if it does not exit (a solo Celery worker may
    ignore SIGTERM while blocked on a poll: docs/design.md)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout_s)
    except ProcessLookupError:
        pass


def wait_ready(base_url: str, timeout_s: float = 30.0, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(base_url + path, timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise click.ClickException(f"{base_url} not ready after {timeout_s:.0f} s: {last}")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def free_port() -> int:
    """A TCP port that was free a moment ago on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def register_devices(base_url: str, count: int) -> list[str]:
    """Register ``count`` devices through the API; returns their bearer tokens."""
    body = {"platform": "other", "app_version": "bench", "model_version": "bench"}
    with httpx.Client(base_url=base_url + "/api/v1", timeout=30) as http:
        return [
            str(http.post("/devices", json=body).raise_for_status().json()["token"])
            for _ in range(count)
        ]
