"""``crowdquake serve``: the web API under gunicorn."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import click

from crowdquake.cli import gunicorn_edge
from crowdquake.cli.common import load_settings

# The heavy imports of create_app (its blueprints import the services, domain and storage).
APP_MODULES = (
    "crowdquake.app",
    "crowdquake.api.alerts",
    "crowdquake.api.events",
    "crowdquake.api.ops",
    "crowdquake.api.views",
    "crowdquake.api.waveforms",
)


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
    master_pid = os.getpid()
    metrics_dir = Path(settings.instance_dir).resolve() / f"prometheus-{master_pid}"
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
                "child_exit": _forget_worker_metrics,
                # gunicorn >= 25 opens a control socket at one per-user path by default: two
                # instances on one host would take it from each other. Not used by crowdquake.
                "control_socket_disable": True,
                **gunicorn_edge.gunicorn_options(settings),  # 414/431 limits
            }
            for key, value in options.items():
                self.cfg.set(key, value)
            gunicorn_edge.install(settings)  # problem+json for 414/431/400, no Server header

        def load(self) -> Any:
            from crowdquake.app import create_app

            return create_app(settings)

    _import_app_modules()
    click.echo(f"crowdquake API listening on http://{bind} ({n_workers} workers)", err=True)
    try:
        Application().run()
    finally:
        # gunicorn forks its workers from inside run(): a worker that exits (HUP reload, timeout,
        # a kill) unwinds through this block too. Only the master may remove the folder the
        # other workers still write to.
        if os.getpid() == master_pid:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _import_app_modules() -> None:
    """Import the application's modules in the master, before gunicorn forks.

    Importing them takes seconds (numpy, scipy, h3, pydantic models); building the app from them
    takes milliseconds. Workers forked after this boot at once, so a HUP reload or the
    replacement of a dead worker leaves no gap in which queued requests wait for imports. The
    app itself (engine, pools, threads) is still built in each worker after the fork.
    """
    import importlib

    for name in APP_MODULES:
        importlib.import_module(name)


def _forget_worker_metrics(_server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook (runs in the master): drop the dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
