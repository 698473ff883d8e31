"""``crowdquake bench soak``: the whole stack under steady phone load, with faults injected.

On loopback: a private PostgreSQL cluster (initdb on a free port: never the shared server, it is
restarted here), a private ``redis-server`` (the Celery broker; restarted too), ``crowdquake
serve`` (gunicorn, no stream processes) and ``crowdquake worker --beat`` (Celery worker + beat).
Simulated phones (``bench_soak_phones``) register through the API, then send heartbeats and
background triggers for ``--minutes``, plus a quake burst every ``QUAKE_EVERY_S``, retrying as
the app does (same trigger id, so a retry is idempotent). Faults, in order, spread over the run:

1. a gunicorn worker is killed (SIGKILL; the master replaces it);
2. PostgreSQL stops for ``--pg-down`` seconds, then starts (ingest must answer 503 meanwhile);
3. the Celery worker and beat are killed (SIGKILL) and started again ``--worker-down`` s later;
4. Redis stops and starts again ``--redis-down`` s later (its queue is lost: the sweeper
   re-queues lost association runs).

Printed: requests sent, answers by status, accepted (triggers answered 2xx) and stored (rows in
the database), duplicates (a trigger id answered 201 twice), 5xx outside the PostgreSQL outage,
the 503 window, and the catch-up after each fault: seconds until every trigger received before
the fault ended has been processed by detection. Exits 1 when an invariant breaks: stored must
equal accepted, no duplicates, no 5xx other than the outage's 503s, nothing abandoned or
rejected, detection caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, func, select

from crowdquake.cli.bench_ingest import _goal
from crowdquake.cli.bench_soak_phones import BAY_AREA, Phones, Tally, place_phones
from crowdquake.cli.common import free_port, python_module, spawn, stop, wait_ready
from crowdquake.cli.pg_cluster import PrivateCluster

log = logging.getLogger(__name__)

QUAKE_EVERY_S = 60.0
# 5xx answers are expected from the PostgreSQL stop until this long after it is back (the
# first request of each pooled connection finds it dead and answers 503).
RECOVERY_GRACE_S = 5.0
CATCH_UP_LIMIT_S = 120.0
CATCH_UP_GOAL_S = 30.0


@dataclass
class Fault:
    name: str
    started: float = 0.0  # Unix time
    ended: float = 0.0
    catch_up_s: float | None = None
    note: str = ""


@dataclass
class Stack:
    """The processes of the soak and the means to hurt them."""

    workdir: Path
    cluster: PrivateCluster = field(default_factory=PrivateCluster)
    database_url: str = ""
    redis_port: int = 0
    redis: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    worker_exits: list[int] = field(default_factory=list)  # unplanned exit codes
    worker_down: bool = False  # killed on purpose, not restarted yet

    def start(self, web_workers: int, web_threads: int) -> None:
        from crowdquake.storage import migrate

        if shutil.which("redis-server") is None:
            raise click.ClickException("redis-server not found (apt-get install redis-server)")
        self.cluster.init()
        self.cluster.start()
        self.database_url = self.cluster.create_database("soak")
        migrate.upgrade(self.database_url)
        self.redis_port = free_port()
        self.start_redis()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.api = spawn(
            python_module(
                "crowdquake.cli",
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                str(web_threads),
            ),
            env=self.env(),
            log_path=self.workdir / "web.log",
        )
        self.start_worker()
        wait_ready(self.base_url, timeout_s=180)

    def env(self) -> dict[str, str]:
        return {
            "CROWDQUAKE_DATABASE_URL": self.database_url,
            "CROWDQUAKE_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CROWDQUAKE_INSTANCE_DIR": str(self.workdir),
            "CROWDQUAKE_STREAM_PROCESSES": "0",
            # Every phone is on 127.0.0.1: the per-IP and per-device limits would count them as one.
            "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "1000000",
            "CROWDQUAKE_REGISTRATION_RATE_LIMIT_PER_MINUTE": "1000000",
            "CROWDQUAKE_TRUST_ALL_DEVICES": "true",  # the simulated phones are vetted
            "CROWDQUAKE_LOG_FORMAT": "text",
        }

    def start_redis(self) -> None:
        self.redis = spawn(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            log_path=self.workdir / "redis.log",
        )

    def start_worker(self) -> None:
        self.worker = spawn(
            python_module("crowdquake.cli", "worker", "--beat", "--concurrency", "2"),
            env=self.env(),
            log_path=self.workdir / "worker.log",
        )
        self.worker_down = False

    def kill_web_worker(self) -> str:
        assert self.api is not None
        children = Path(f"/proc/{self.api.pid}/task/{self.api.pid}/children").read_text().split()
        if not children:
            return "no web worker found"
        os.kill(int(children[0]), signal.SIGKILL)
        return f"gunicorn worker {children[0]} killed"

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker_down = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def watch_worker(self) -> None:
        """Restart a worker that died on its own (a supervisor such as systemd would); its exit
        code is reported."""
        if not self.worker_down and self.worker is not None and self.worker.poll() is not None:
            self.worker_exits.append(self.worker.returncode)
            self.start_worker()

    def stop_redis(self) -> None:
        if self.redis is not None:
            stop(self.redis)

    def close(self) -> None:
        for process in (self.api, self.worker, self.redis):
            if process is not None:
                stop(process)
        with contextlib.suppress(subprocess.CalledProcessError):
            self.cluster.stop()
        self.cluster.remove()


def _new_before(engine: Engine, received_before: datetime) -> int:
    """Triggers received before the time that detection has not processed yet (within the
    pipeline's lookback: older ones are not read by design)."""
    from crowdquake.services.detection import PipelineConfig
    from crowdquake.storage.models import Trigger

    now = datetime.now(UTC)
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(Trigger)
                .where(
                    Trigger.status == "new",
                    Trigger.received_at <= received_before,
                    Trigger.received_at >= now - timedelta(seconds=PipelineConfig().lookback_s),
                )
            )
            or 0
        )


async def _catch_up(engine: Engine, fault: Fault) -> None:
    """Seconds from the end of ``fault`` until detection has processed what came before it."""
    ended = datetime.fromtimestamp(fault.ended, UTC)
    while time.time() - fault.ended < CATCH_UP_LIMIT_S:
        try:
            if await asyncio.to_thread(_new_before, engine, ended) == 0:
                fault.catch_up_s = time.time() - fault.ended
                return
        except Exception:  # the database may be restarting: try again
            log.debug("catch-up check failed", exc_info=True)
        await asyncio.sleep(0.5)


async def _inject(
    stack: Stack, engine: Engine, at_s: list[float], downs: dict[str, float], redis: bool
) -> list[Fault]:
    """Run the faults at the given offsets (seconds from now); returns them with their times."""
    started = time.monotonic()
    faults: list[Fault] = []
    checks: list[asyncio.Task[None]] = []

    async def at(offset_s: float) -> None:
        await asyncio.sleep(max(0.0, started + offset_s - time.monotonic()))

    async def run(fault: Fault, hurt: Any, heal: Any, down_s: float) -> None:
        fault.started = time.time()
        fault.note = str(await asyncio.to_thread(hurt) or "")
        await asyncio.sleep(down_s)
        if heal is not None:
            await asyncio.to_thread(heal)
        fault.ended = time.time()
        faults.append(fault)
        checks.append(asyncio.create_task(_catch_up(engine, fault)))

    await at(at_s[0])  # the reference: how long detection takes to catch up with no fault
    await run(Fault("no fault (baseline)"), lambda: None, None, 0.0)
    await at(at_s[1])
    await run(Fault("web worker killed"), stack.kill_web_worker, None, 0.0)
    await at(at_s[2])
    await run(Fault("PostgreSQL restart"), stack.cluster.stop, stack.cluster.start, downs["pg"])
    await at(at_s[3])
    await run(Fault("Celery worker killed"), stack.kill_worker, stack.start_worker, downs["worker"])
    if redis:
        await at(at_s[4])
        await run(Fault("Redis restart"), stack.stop_redis, stack.start_redis, downs["redis"])
    await asyncio.gather(*checks)
    return faults


async def _soak(
    stack: Stack,
    engine: Engine,
    tokens: list[str],
    *,
    duration_s: float,
    heartbeat_s: float,
    trigger_rate: float,
    downs: dict[str, float],
    redis: bool,
    seed: int,
) -> tuple[Tally, list[Fault], int]:
    rng = random.Random(seed)
    tally = Tally()
    phones = place_phones(tokens, rng)
    quakes = 0
    async with Phones(stack.base_url, phones, tally, concurrency=64, seed=seed) as sim:
        until = time.monotonic() + duration_s
        offsets = [duration_s * f for f in (0.1, 0.2, 0.35, 0.55, 0.75)]
        injector = asyncio.create_task(_inject(stack, engine, offsets, downs, redis))
        load: list[asyncio.Task[Any]] = [
            asyncio.create_task(sim.heartbeats(until, heartbeat_s)),
            asyncio.create_task(sim.background(until, trigger_rate)),
        ]
        next_quake = time.monotonic() + QUAKE_EVERY_S / 2
        while time.monotonic() < until:
            stack.watch_worker()
            if time.monotonic() >= next_quake:
                lat = BAY_AREA[0] + rng.uniform(-0.2, 0.2)
                lon = BAY_AREA[1] + rng.uniform(-0.2, 0.2)
                load.append(asyncio.create_task(sim.quake(lat, lon)))
                quakes += 1
                next_quake += QUAKE_EVERY_S
            await asyncio.sleep(0.5)
        await asyncio.gather(*load)
        await sim.drain()
        while not injector.done():  # faults still running (a very short soak)
            stack.watch_worker()
            await asyncio.sleep(0.5)
        faults = injector.result()
    return tally, faults, quakes


def _register(base_url: str, count: int) -> list[str]:
    from crowdquake.cli.common import register_devices

    return register_devices(base_url, count)


def _stored(engine: Engine, sent_ids: set[str]) -> tuple[set[str], int, int]:
    """(trigger ids stored, rows stored, device_state rows)."""
    from crowdquake.storage.models import DeviceState, Trigger

    with engine.connect() as conn:
        ids = {str(i) for i in conn.scalars(select(Trigger.id))}
        rows = int(conn.scalar(select(func.count()).select_from(Trigger)) or 0)
        states = int(conn.scalar(select(func.count()).select_from(DeviceState)) or 0)
    return ids, rows, states


@click.command("soak")
@click.option("--minutes", default=3.0, show_default=True, help="Length of the loaded phase.")
@click.option("--phones", "n_phones", default=300, show_default=True, help="Simulated phones.")
@click.option(
    "--heartbeat-s", default=30.0, show_default=True, help="Heartbeat period of each phone, s."
)
@click.option(
    "--trigger-rate",
    default=5.0,
    show_default=True,
    help="Background (false) triggers per second over all phones.",
)
@click.option(
    "--pg-down", "pg_down_s", default=8.0, show_default=True, help="PostgreSQL outage, s."
)
@click.option(
    "--worker-down", "worker_down_s", default=5.0, show_default=True, help="Celery outage, s."
)
@click.option(
    "--redis-down", "redis_down_s", default=3.0, show_default=True, help="Redis outage, s."
)
@click.option(
    "--redis-restart/--no-redis-restart",
    default=True,
    show_default=True,
    help="Also stop and start the (private) Redis broker.",
)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per web worker.")
@click.option("--seed", default=1, show_default=True, help="Phone positions and timings.")
def bench_soak(
    minutes: float,
    n_phones: int,
    heartbeat_s: float,
    trigger_rate: float,
    pg_down_s: float,
    worker_down_s: float,
    redis_down_s: float,
    redis_restart: bool,
    workers: int,
    threads: int,
    seed: int,
) -> None:
    """The real stack under phone load for N minutes while PostgreSQL, a web worker, the Celery
    worker and Redis fail; checks that every accepted trigger is stored exactly once.

    Runs a private PostgreSQL cluster and Redis on free ports (never the shared servers).
    Exits 1 when an invariant breaks (see docs/operations.md).
    """
    from crowdquake.storage.session import make_engine

    workdir = Path(tempfile.mkdtemp(prefix="crowdquake-soak-"))
    stack = Stack(workdir)
    click.echo(f"soak: logs in {workdir}", err=True)
    try:
        stack.start(workers, threads)
        engine = make_engine(stack.database_url)
        click.echo(f"registering {n_phones} phones", err=True)
        tokens = _register(stack.base_url, n_phones)
        click.echo(f"load for {minutes:g} min with faults ...", err=True)
        started = time.time()
        tally, faults, quakes = asyncio.run(
            _soak(
                stack,
                engine,
                tokens,
                duration_s=minutes * 60.0,
                heartbeat_s=heartbeat_s,
                trigger_rate=trigger_rate,
                downs={"pg": pg_down_s, "worker": worker_down_s, "redis": redis_down_s},
                redis=redis_restart,
                seed=seed,
            )
        )
        elapsed = time.time() - started
        stored_ids, stored_rows, states = _stored(engine, tally.trigger_ids)
        engine.dispose()
    finally:
        stack.close()
    ok = _report(tally, faults, quakes, elapsed, stored_ids, stored_rows, states, n_phones, stack)
    if not ok:
        raise SystemExit(1)


def _report(
    tally: Tally,
    faults: list[Fault],
    quakes: int,
    elapsed_s: float,
    stored_ids: set[str],
    stored_rows: int,
    states: int,
    n_phones: int,
    stack: Stack,
) -> bool:
    pg = next(f for f in faults if f.name == "PostgreSQL restart")
    window = (pg.started, pg.ended + RECOVERY_GRACE_S)
    in_window = [t for t, s in tally.server_errors if s == 503 and window[0] <= t <= window[1]]
    outside = [
        (t, s) for t, s in tally.server_errors if not (s == 503 and window[0] <= t <= window[1])
    ]
    duplicates = sum(1 for n in tally.created.values() if n > 1)
    lost = tally.accepted_triggers - stored_ids
    unacknowledged = stored_ids - tally.accepted_triggers
    foreign = stored_ids - tally.trigger_ids
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(tally.by_status.items()))
    click.echo(
        f"\nsoak: {elapsed_s:.0f} s, {n_phones} phones, {quakes} quake bursts; "
        f"faults: {', '.join(f.name for f in faults)}"
    )
    click.echo(f"requests sent:            {tally.sent} ({statuses})")
    click.echo(
        f"connection errors:        {tally.connection_errors}, timeouts {tally.timeouts} (retried)"
    )
    click.echo(f"triggers sent (ids):      {len(tally.trigger_ids)}")
    click.echo(f"accepted (2xx):           {len(tally.accepted_triggers)}")
    click.echo(
        f"stored rows:              {stored_rows} (accepted but not stored {len(lost)}, "
        f"stored but never acknowledged {len(unacknowledged)}, unknown {len(foreign)})"
    )
    click.echo(f"duplicates (201 twice):   {duplicates}")
    click.echo(
        f"heartbeats:               {len(tally.accepted_heartbeats)} devices acknowledged, "
        f"{states} device_state rows"
    )
    click.echo(f"abandoned / rejected 4xx: {tally.abandoned} / {dict(tally.rejected)}")
    if in_window:
        click.echo(
            f"503 window:               {max(in_window) - min(in_window):.1f} s "
            f"({len(in_window)} answers; PostgreSQL down {pg.ended - pg.started:.1f} s; "
            f"slowest 503 {tally.slowest_503_s * 1000:.0f} ms)"
        )
    else:
        click.echo("503 window:               no 503 seen")
    click.echo(f"5xx outside the window:   {len(outside)} {sorted({s for _, s in outside})}")
    for fault in faults:
        catch = f"{fault.catch_up_s:.1f} s" if fault.catch_up_s is not None else "NOT caught up"
        note = f" ({fault.note})" if fault.note else ""
        click.echo(f"catch-up after {fault.name + ':':22s} {catch}{note}")
    if stack.worker_exits:
        click.echo(
            f"worker exited on its own: exit codes {stack.worker_exits} (restarted, as systemd "
            "would; its log says why)"
        )
    checks = {
        "accepted = stored": not lost and stored_rows == len(tally.accepted_triggers),
        "0 duplicates": duplicates == 0,
        "0 5xx outside the 503 window": not outside,
        "every acknowledged heartbeat stored": states == len(tally.accepted_heartbeats),
        "nothing abandoned or rejected": tally.abandoned == 0 and not tally.rejected,
        "detection caught up after every fault": all(f.catch_up_s is not None for f in faults),
    }
    for name, met in checks.items():
        click.echo(f"invariant {name}: {'ok' if met else 'BROKEN'}")
    # Timings on a shared machine: goals to report, not invariants.
    catch_ups = [f.catch_up_s for f in faults if f.catch_up_s is not None]
    met = bool(catch_ups) and max(catch_ups) <= CATCH_UP_GOAL_S
    click.echo(_goal(met, f"catch-up <= {CATCH_UP_GOAL_S:.0f} s after each fault"))
    click.echo(_goal(tally.slowest_503_s < 1.0, "every 503 answered within 1 s"))
    click.echo(
        _goal(not stack.worker_exits, "the Celery worker survives every fault it is not killed by")
    )
    return all(checks.values())
