"""``crowdquake serve``: the web API under gunicorn."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import click

from crowdquake.cli.common import load_settings


@click.command()
@click.option("--bind", help="host:port (default CROWDQUAKE_BIND, 127.0.0.1:8000)")
@click.option(
    "--workers", type=int, help="gunicorn worker processes (default CROWDQUAKE_WEB_WORKERS)"
)
@click.option("--threads", type=int, help="threads per worker (default CROWDQUAKE_WEB_THREADS)")
@click.option("--upgrade/--no-upgrade", default=False, help="Run database migrations first.")
def serve(bind: str | None, workers: int | None, threads: int | None, upgrade: bool) -> None:
    """Serve the HTTP API (ingest, feeds, console, /healthz, /readyz, /metrics) with gunicorn."""
    from gunicorn.app.base import BaseApplication

    settings = load_settings()
    if upgrade:
        from crowdquake.storage import migrate

        migrate.upgrade(settings.database_url)
    bind = bind or settings.bind
    n_workers: int = workers or settings.web_workers
    n_threads: int = threads or settings.web_threads
    settings = dataclasses.replace(settings, web_workers=n_workers, web_threads=n_threads)
    # Aggregate /metrics across worker processes (prometheus_client multiprocess mode).
    metrics_dir = Path(settings.instance_dir).resolve() / f"prometheus-{os.getpid()}"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    class Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": bind,
                "workers": n_workers,
                "threads": n_threads,
                "worker_class": "gthread" if n_threads > 1 else "sync",
                "accesslog": None,
                "errorlog": "-",
                "loglevel": settings.log_level.lower(),
                "timeout": 30,
                "keepalive": 5,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from crowdquake.app import create_app

            return create_app(settings)

    click.echo(f"crowdquake API listening on http://{bind} ({n_workers} workers)", err=True)
    try:
        Application().run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
