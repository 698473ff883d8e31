"""``crowdquake demo``: the whole service on embedded defaults, exercised through HTTP."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import httpx

from crowdquake.cli.common import load_settings, python_module, spawn, stop, wait_ready


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@click.command()
@click.option("--port", type=int, default=None, help="Port for the API (default: a free one).")
@click.option("--keep-serving", is_flag=True, help="Leave API and worker running until Ctrl-C.")
def demo(port: int | None, keep_serving: bool) -> None:
    """Start the API and a real worker, send phone data through HTTP and show the result.

    Uses CROWDQUAKE_DATABASE_URL / CROWDQUAKE_BROKER_URL when set; otherwise a SQLite file and
    the server-less SQLite broker under instance/, so nothing needs to be installed.
    """
    from crowdquake.storage import migrate

    settings = load_settings()
    migrate.upgrade(settings.database_url)
    port = port or _free_port()
    base = f"http://127.0.0.1:{port}"
    click.echo(f"database: {settings.database_url.split('@')[-1]}")
    click.echo(f"broker:   {settings.broker_url.split('@')[-1]}")
    logs = Path(settings.instance_dir).resolve() / "logs"
    web = spawn(
        python_module("crowdquake.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"),
        log_path=logs / "web.log",
    )
    worker = spawn(
        python_module("crowdquake.cli", "worker", "--pool", "solo", "--beat"),
        log_path=logs / "worker.log",
    )
    click.echo(f"logs:     {logs}/web.log, {logs}/worker.log")
    try:
        wait_ready(base)
        click.echo(f"API listening on {base}  (OpenAPI: {base}/api/v1/openapi.json)")
        _check_worker(settings)
        _scripted_session(base)
        if keep_serving:
            click.echo("serving; press Ctrl-C to stop")
            while web.poll() is None and worker.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop(web)
        stop(worker)


def _check_worker(settings: object) -> None:
    from crowdquake.tasks import make_celery

    app = make_celery(settings)  # type: ignore[arg-type]
    started = time.perf_counter()
    reply = app.send_task("crowdquake.ops.ping").get(timeout=30)
    click.echo(f"worker answered {reply!r} in {1000 * (time.perf_counter() - started):.0f} ms")


def _scripted_session(base: str) -> None:
    with httpx.Client(base_url=base + "/api/v1", timeout=10) as http:
        device = (
            http.post(
                "/devices",
                json={"platform": "android", "app_version": "demo", "model_version": "demo"},
            )
            .raise_for_status()
            .json()
        )
        headers = {"Authorization": f"Bearer {device['token']}"}
        beat = (
            http.post(
                "/heartbeats",
                headers=headers,
                json={
                    "latitude": 37.8716,
                    "longitude": -122.2727,
                    "accuracy_m": 10.0,
                    "steady": True,
                    "charging": True,
                    "app_version": "demo",
                    "model_version": "demo",
                    "clock_offset_s": 0.0,
                },
            )
            .raise_for_status()
            .json()
        )
        trigger = {
            "id": str(uuid.uuid4()),
            "trigger_time": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
            "latitude": 37.8716,
            "longitude": -122.2727,
            "accuracy_m": 10.0,
            "pga_ms2": 0.3,
            "score": 0.97,
            "model_version": "demo",
        }
        stored = http.post("/triggers", headers=headers, json=trigger).raise_for_status().json()
        bad = http.post("/triggers", headers=headers, json={**trigger, "latitude": 123})
    click.echo(f"registered device {device['device_id']}")
    click.echo(f"heartbeat stored at cell {beat['cell']} (coarsened position)")
    click.echo(f"trigger {stored['id']} stored, received_at {stored['received_at']}")
    click.echo(f"invalid trigger -> {bad.status_code} {bad.json()['errors'][0]['field']}")
