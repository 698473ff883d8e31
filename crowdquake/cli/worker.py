"""``crowdquake worker`` and ``crowdquake beat``: the pipeline's Celery processes.

``crowdquake worker --beat`` runs a small supervisor with two children, a Celery worker and the
beat scheduler, instead of Celery's embedded beat. The supervisor

- prepares the embedded (SQLite) broker once, before any child exists: kombu creates its tables
  and queue rows lazily in whichever process touches them first, and two processes doing it at
  once failed with ``UNIQUE constraint failed: kombu_queue.name`` and killed the consumer;
- exits non-zero, loudly, when either child dies (a scheduler sending sweeps to no consumer, or a
  consumer that nothing feeds, is detection silently off), after stopping the other;
- on SIGTERM/SIGINT stops both and exits within ``SHUTDOWN_GRACE_S``: a warm Celery shutdown
  waits for running tasks, so a child still alive then is killed (an interrupted association run
  is re-queued by the sweeper after ``CROWDQUAKE_REDRIVE_AFTER_S``);
- logs an error while the pipeline heartbeat (``/readyz`` ``detection``) is stale.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from crowdquake.cli.common import load_settings
from crowdquake.config import Settings

log = logging.getLogger("crowdquake.worker")

SHUTDOWN_GRACE_S = 8.0
SCHEMA_WAIT_S = 60.0
POLL_S = 0.2


@click.command()
@click.option("--concurrency", type=int, default=None, help="Worker processes (default: cores).")
@click.option(
    "--beat/--no-beat",
    default=False,
    help="Also run the periodic scheduler (as a supervised second process).",
)
@click.option("--pool", default=None, help="Celery pool (prefork, solo, threads).")
@click.option("--queues", "-Q", default=None, help="Comma-separated queues to consume.")
def worker(concurrency: int | None, beat: bool, pool: str | None, queues: str | None) -> None:
    """Run a Celery worker on CROWDQUAKE_BROKER_URL (embedded SQLite broker by default).

    Waits up to a minute for the database schema (run `crowdquake db upgrade` or `crowdquake
    serve --upgrade`), then exits 2 if it is still not current. With --beat, exits 1 as soon as
    the worker or the scheduler dies; SIGTERM ends both within a few seconds.
    """
    settings = load_settings()
    _wait_for_schema(settings)
    from crowdquake.tasks.embedded import prepare_broker

    prepare_broker(settings)
    if beat:
        args = [sys.executable, "-m", "crowdquake.cli", "worker", "--no-beat"]
        if concurrency:
            args.append(f"--concurrency={concurrency}")
        if pool:
            args.append(f"--pool={pool}")
        if queues:
            args.append(f"--queues={queues}")
        beat_args = [sys.executable, "-m", "crowdquake.cli", "beat"]
        sys.exit(Supervisor(settings, {"worker": args, "beat": beat_args}).run())
    from crowdquake.tasks import make_celery

    _keep_our_logging(settings.log_level, settings.log_format)
    if settings.worker_metrics_port:
        from crowdquake.tasks.metrics import prepare_multiprocess_dir, serve_metrics

        serve_metrics(settings.worker_metrics_port, prepare_multiprocess_dir(settings.instance_dir))
    app = make_celery(settings)
    argv = ["worker", f"--loglevel={settings.log_level}", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if pool:
        argv.append(f"--pool={pool}")
    if queues:
        argv.append(f"--queues={queues}")
    click.echo(f"crowdquake worker on {_redact(settings.broker_url)}", err=True)
    code: int | str | None = 0
    try:
        app.worker_main(argv)
    except SystemExit as exc:
        code = exc.code
    # Celery has finished its shutdown here (tasks acknowledged, pool joined, connections
    # closed). What is left are billiard's atexit finalizers, which can block forever joining
    # a pool thread (seen after every warm shutdown on the SQLite broker): skip them.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


@click.command()
def beat() -> None:
    """Run the periodic scheduler alone (detection sweeps, heartbeat, retries, retention).

    Exactly one scheduler may run per deployment; `crowdquake worker --beat` starts one.
    """
    settings = load_settings()
    from crowdquake.tasks import make_celery

    schedule = Path(settings.instance_dir).resolve() / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app = make_celery(settings, with_tasks=False)
    _keep_our_logging(settings.log_level, settings.log_format)
    click.echo(f"crowdquake beat on {_redact(settings.broker_url)}", err=True)
    app.start(["beat", f"--loglevel={settings.log_level}", f"--schedule={schedule}"])


def _wait_for_schema(settings: Settings) -> None:
    from crowdquake.storage import migrate

    deadline = time.monotonic() + SCHEMA_WAIT_S
    while True:
        try:
            if migrate.is_current(settings.database_url):
                return
            reason = "the database schema is not current"
        except Exception as exc:  # unreachable server, missing file: wait, then say so
            reason = f"the database is unreachable ({exc.__class__.__name__})"
        if time.monotonic() > deadline:
            click.echo(
                f"crowdquake worker: {reason} after {SCHEMA_WAIT_S:.0f} s; "
                "run `crowdquake db upgrade` (or `crowdquake serve --upgrade`) first",
                err=True,
            )
            sys.exit(2)
        time.sleep(1.0)


class Supervisor:
    """Runs named child commands; stops all when one dies or a stop signal arrives."""

    def __init__(self, settings: Settings, commands: dict[str, list[str]]) -> None:
        self.settings = settings
        self.commands = commands
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stop_signal: int | None = None
        self.heartbeat_stale = False

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stop_signal = signum

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for name, args in self.commands.items():
            # preexec_fn is safe here: the supervisor has no other thread.
            self.children[name] = subprocess.Popen(
                args,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
            log.info("started %s (pid %d)", name, self.children[name].pid)
        next_heartbeat_check = time.monotonic() + 60.0  # let the first beats arrive
        while self.stop_signal is None:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    log.critical(
                        "%s exited with code %s: detection is NOT running; stopping", name, code
                    )
                    self._stop_all()
                    return code if code not in (0, None) else 1
            if time.monotonic() >= next_heartbeat_check:
                self._check_heartbeat()
                next_heartbeat_check = time.monotonic() + 10.0
            time.sleep(POLL_S)
        log.info("signal %d: stopping worker and beat", self.stop_signal)
        self._stop_all()
        return 0

    def _stop_all(self) -> None:
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for child in self.children.values():
            # The child's main process only: Celery stops its own pool processes in order.
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in self.children.items():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s still running %.0f s after SIGTERM: killed", name, SHUTDOWN_GRACE_S)
            _signal_group(child, signal.SIGKILL)  # also pool processes left behind
            child.wait()

    def _check_heartbeat(self) -> None:
        from crowdquake.services import health
        from crowdquake.services.ports import SystemClock
        from crowdquake.storage.session import make_engine, make_session_factory

        engine = make_engine(self.settings.database_url)
        try:
            with make_session_factory(engine)() as session:
                status = health.detection_status(session, SystemClock().now())
        except Exception as exc:
            log.error("cannot read the detection heartbeat (%s)", exc.__class__.__name__)
            return
        finally:
            engine.dispose()
        if not status.running:
            log.error(
                "detection heartbeat is stale (last %s s ago): the worker is hung or overloaded",
                status.last_beat_age_s,
            )
        elif self.heartbeat_stale:
            log.info("detection heartbeat is fresh again")
        self.heartbeat_stale = not status.running


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, sig)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the supervisor dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def _keep_our_logging(level: str, fmt: str) -> None:
    """Celery configures logging itself unless someone handles its ``setup_logging`` signal:
    keep the service's format (JSON lines) and its quiet loggers in the worker too."""
    from celery.signals import setup_logging

    from crowdquake.logs import configure_logging

    def _configure(**_kwargs: object) -> None:
        configure_logging(level, fmt)

    setup_logging.connect(_configure, weak=False)
