"""``crowdquake serve``: the web API under gunicorn."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click

from crowdquake.cli import gunicorn_edge
from crowdquake.cli.common import load_settings

# The packages whose modules create_app imports (blueprints, which import services and domain).
APP_PACKAGES = ("crowdquake.api", "crowdquake.console", "crowdquake.fdsn")


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
    stream_bind = settings.stream_bind or _next_port(bind)
    settings = dataclasses.replace(
        settings, web_workers=n_workers, web_threads=n_threads, stream_bind=stream_bind
    )
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
    streams = StreamProcesses(settings.stream_processes, stream_bind)
    try:
        streams.start()
        Application().run()
    finally:
        if os.getpid() == master_pid:
            streams.stop()
        # gunicorn forks its workers from inside run(): a worker that exits (HUP reload, timeout,
        # a kill) unwinds through this block too. Only the master may remove the folder the
        # other workers still write to.
        if os.getpid() == master_pid:
            shutil.rmtree(metrics_dir, ignore_errors=True)


class StreamProcesses:
    """The alert stream server processes (``crowdquake stream``) next to gunicorn.

    Started before gunicorn forks its workers, restarted by a watcher thread of the master when
    one fails (non-zero exit), stopped with the master; each also dies with it (Linux
    parent-death signal).
    """

    def __init__(self, count: int, bind: str) -> None:
        self.count = count
        self.bind = bind
        self.socket: Any = None
        self.processes: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.socket.fileno()
        return subprocess.Popen(
            [sys.executable, "-m", "crowdquake.cli", "stream", f"--fd={fd}"],
            pass_fds=(fd,),
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (no other thread exists yet or forks)
        )

    def start(self) -> None:
        if self.count <= 0:
            return
        from crowdquake.api.stream_server import listening_socket

        self.socket = listening_socket(self.bind)
        click.echo(f"crowdquake alert streams on http://{self.bind}", err=True)
        self.processes = [self._spawn() for _ in range(self.count)]
        threading.Thread(target=self._watch, name="stream-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            for i, process in enumerate(self.processes):
                # 0: it was told to stop (SIGTERM/SIGINT to the whole process group).
                if process.poll() not in (None, 0) and not self.stopping.is_set():
                    click.echo(
                        f"stream server (pid {process.pid}) exited with {process.returncode}: "
                        "restarting",
                        err=True,
                    )
                    self.processes[i] = self._spawn()

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.socket is not None:
            self.socket.close()


def _next_port(bind: str) -> str:
    host, _, port = bind.rpartition(":")
    return f"{host}:{int(port) + 1}"


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _import_app_modules() -> None:
    """Import the application's modules in the master, before gunicorn forks.

    Importing them takes seconds (numpy, scipy, h3, pydantic models); building the app from them
    takes milliseconds. Workers forked after this boot at once, so a HUP reload or the
    replacement of a dead worker leaves no gap in which queued requests wait for imports. The
    app itself (engine, pools, threads) is still built in each worker after the fork.
    """
    import importlib
    import pkgutil

    importlib.import_module("crowdquake.app")
    for name in APP_PACKAGES:
        if importlib.util.find_spec(name) is None:
            continue
        package = importlib.import_module(name)
        for module in pkgutil.iter_modules(package.__path__, f"{name}."):
            if module.name != "crowdquake.api.stream_server":  # its own process
                importlib.import_module(module.name)


def _forget_worker_metrics(_server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook (runs in the master): drop the dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
