"""``crowdquake bench ingest``: ingest throughput and latency on gunicorn + PostgreSQL.

The load comes from wrk (a separate C process) with a Lua script that posts authenticated,
validated triggers with fresh UUIDs. Printed: the trivial endpoint's throughput (the framework
ceiling of the same server in the same run), single-trigger requests/s and the ratio, p50/p99 at a
paced rate, and batch triggers/s. Both processes share this machine's cores: figures are lower
bounds for a real deployment. The server runs as in production: PostgreSQL, and the after-commit
hand-off to detection publishing to a Redis broker (no worker consumes it during the run). Each
phase also reports the server's CPU per request (``bench_cpu``: the gunicorn processes and the
database's PostgreSQL backends), which a busy machine disturbs less than requests per second.
Last, the web-edge CPU per request of the trivial endpoint and of a
single trigger through the lean path and the Flask views, measured in one process
(``bench_ingest_edge``), which a busy machine disturbs far less.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from crowdquake.cli.bench_cpu import CpuMeter, ServerCpu
from crowdquake.cli.bench_ingest_edge import edge_cpu_us
from crowdquake.cli.common import (
    free_port,
    python_module,
    register_devices,
    spawn,
    stop,
    wait_ready,
)
from crowdquake.config import Settings
from crowdquake.storage.admin import recreate_postgres_database

LUA = Path(__file__).with_name("bench_assets") / "ingest.lua"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crowdquake_bench"
# The broker of the after-commit hand-off to detection, as in production (a Redis database of
# its own: it is flushed; no worker consumes the queued runs during the benchmark).
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str


def _parse_duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def prepare_wrk_database(database_url: str, bench: str) -> None:
    """What every wrk benchmark needs first: wrk and a fresh, migrated PostgreSQL database."""
    from crowdquake.storage import migrate

    if shutil.which("wrk") is None:
        raise click.ClickException("wrk not found: `apt-get install wrk` (make bench does this)")
    if not database_url.startswith("postgresql"):
        raise click.UsageError(f"the {bench} benchmark runs on PostgreSQL")
    click.echo(f"recreating {database_url.rsplit('@', 1)[-1]} and migrating", err=True)
    recreate_postgres_database(database_url)
    migrate.upgrade(database_url)


def run_wrk(
    url: str, script: Path, *, duration_s: int, connections: int, threads: int
) -> WrkResult:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # wrk pads seconds ("1.47s "): trailing blanks are allowed
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, flags=re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return WrkResult(
        rps,
        _parse_duration_ms(pct["50"]),
        _parse_duration_ms(pct["99"]),
        int(non_2xx.group(1)) if non_2xx else 0,
        errors.group(1) if errors else "none",
    )


def _script(
    workdir: Path, name: str, tokens: list[str], path: str, batch: int, delay_ms: int
) -> Path:
    prelude = (
        f"TOKENS = {{{', '.join(json.dumps(t) for t in tokens)}}}\n"
        f"PATH = {json.dumps(path)}\nBATCH = {batch}\nDELAY_MS = {delay_ms}\n"
    )
    target = workdir / f"{name}.lua"
    target.write_text(prelude + LUA.read_text())
    return target


def _goal(met: bool, goal: str) -> str:
    return f"goal {goal}: {'met' if met else 'NOT met'}"


def _group_commit_totals(base: str) -> tuple[float, float]:
    """(rows, flushes) of the server's group commits, from its /metrics."""
    import httpx

    text = httpx.get(base + "/metrics", timeout=10).text
    found = dict(
        re.findall(r"^crowdquake_ingest_group_commit_rows_(sum|count) (\S+)$", text, flags=re.M)
    )
    return float(found.get("sum", 0)), float(found.get("count", 0))


def _trivial_script(workdir: Path) -> Path:
    target = workdir / "trivial.lua"
    target.write_text('wrk.method = "GET"\n')
    return target


@click.command("ingest")
@click.option(
    "--database-url",
    envvar="CROWDQUAKE_BENCH_DATABASE_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="PostgreSQL database to recreate for the run.",
)
@click.option(
    "--redis-url",
    envvar="CROWDQUAKE_BENCH_INGEST_REDIS_URL",
    default=DEFAULT_REDIS,
    show_default=True,
    help="Redis database (flushed) for the Celery broker of the detection hand-off, as in "
    "production; 'embedded' keeps the development default (a SQLite broker file).",
)
# 2 x 8 was the fastest single-trigger configuration on 2 cores (4x1, 4x4, 3x8, 4x8, 2x16 tried):
# one process per core, threads so that concurrent requests share group commits.
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per worker (>1: gthread).")
@click.option("--duration", "duration_s", default=10, show_default=True, help="Seconds per phase.")
@click.option("--connections", default=32, show_default=True, help="wrk connections (saturation).")
@click.option(
    "--rate", default=500, show_default=True, help="Paced request rate for the latency phase."
)
@click.option("--batch-size", default=50, show_default=True, help="Triggers per batch request.")
@click.option(
    "--devices", default=200, show_default=True, help="Registered devices the load rotates over."
)
@click.option(
    "--ingest-path",
    type=click.Choice(["lean", "flask"]),
    default="lean",
    show_default=True,
    help="Serve the ingest routes by the lean WSGI path or by the Flask views (for comparison).",
)
def bench_ingest(
    database_url: str,
    redis_url: str,
    workers: int,
    threads: int,
    duration_s: int,
    connections: int,
    rate: int,
    batch_size: int,
    devices: int,
    ingest_path: str,
) -> None:
    """Measure ingest against the framework ceiling of the same gunicorn + PostgreSQL server."""
    prepare_wrk_database(database_url, "ingest")
    if redis_url != "embedded":
        import redis

        click.echo(f"flushing {redis_url}", err=True)
        redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="crowdquake-bench-"))
    env = {
        "CROWDQUAKE_DATABASE_URL": database_url,
        "CROWDQUAKE_INSTANCE_DIR": str(workdir),
        "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "100000000",
        "CROWDQUAKE_REGISTRATION_RATE_LIMIT_PER_MINUTE": "100000000",
        "CROWDQUAKE_MAX_REQUEST_BYTES": str(4 * 1024 * 1024),
        "CROWDQUAKE_LOG_LEVEL": "WARNING",
        "CROWDQUAKE_INGEST_LEAN_PATH": str(ingest_path == "lean").lower(),
    }
    if redis_url != "embedded":
        env["CROWDQUAKE_BROKER_URL"] = env["CROWDQUAKE_RESULT_BACKEND"] = redis_url
    server = spawn(
        python_module(
            "crowdquake.cli",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ),
        env=env,
        log_path=workdir / "web.log",
    )
    try:
        wait_ready(base)
        tokens = register_devices(base, devices)
        wrk_threads = 2
        click.echo(
            f"server: gunicorn {workers}x{threads} on {base}, ingest by the {ingest_path} path, "
            f"detection hand-off broker {redis_url}; load: wrk {wrk_threads} threads",
            err=True,
        )
        # wrk is closed-loop: each connection waits `delay` after every answer, so aim a bit
        # above the target (the achieved rate is printed next to the latency).
        paced_connections = 25
        delay_ms = max(0, round(0.85 * 1000 * paced_connections / rate))
        phases = {
            "trivial": (base + "/healthz", _trivial_script(workdir), connections),
            "single": (
                base + "/api/v1/triggers",
                _script(workdir, "single", tokens, "/api/v1/triggers", 0, 0),
                connections,
            ),
            "paced": (
                base + "/api/v1/triggers",
                _script(workdir, "paced", tokens, "/api/v1/triggers", 0, delay_ms),
                paced_connections,
            ),
            "batch": (
                base + "/api/v1/triggers:batch",
                _script(workdir, "batch", tokens, "/api/v1/triggers:batch", batch_size, 0),
                connections,
            ),
        }
        results: dict[str, WrkResult] = {}
        cpu: dict[str, ServerCpu] = {}
        meter = CpuMeter(server.pid, make_url(database_url).database or "")
        for name, (url, script, conns) in phases.items():
            click.echo(f"  {name:8s} {duration_s} s ...", err=True)
            before = meter.sample() if meter.available() else None
            results[name] = run_wrk(
                url, script, duration_s=duration_s, connections=conns, threads=wrk_threads
            )
            if before is not None:
                cpu[name] = meter.spent(before, meter.sample())
        flushed_rows, flushes = _group_commit_totals(base)
    finally:
        stop(server)
        shutil.rmtree(workdir, ignore_errors=True)

    trivial, single, paced, batch = (results[k] for k in ("trivial", "single", "paced", "batch"))
    ratio = single.requests_per_s / trivial.requests_per_s
    batch_rate = batch.requests_per_s * batch_size
    click.echo(
        f"\ningest benchmark ({ingest_path} ingest path; gunicorn {workers}x{threads} + PostgreSQL "
        "on loopback, wrk on the same cores)"
    )
    click.echo(f"  trivial GET /healthz          {trivial.requests_per_s:9.0f} req/s   (ceiling)")
    click.echo(
        f"  single POST /triggers         {single.requests_per_s:9.0f} req/s   "
        f"ratio {ratio:.2f} ({_goal(ratio >= 0.60, '>= 0.60')})  "
        f"p50 {single.p50_ms:.1f} ms  p99 {single.p99_ms:.1f} ms"
    )
    paced_ok = paced.p99_ms < 50.0 and paced.requests_per_s >= 0.95 * rate
    click.echo(
        f"  paced POST /triggers          {paced.requests_per_s:9.0f} req/s   "
        f"p50 {paced.p50_ms:.1f} ms  p99 {paced.p99_ms:.1f} ms "
        f"({_goal(paced_ok, f'p99 < 50 ms at {rate}/s')})"
    )
    click.echo(
        f"  batch POST /triggers:batch    {batch_rate:9.0f} triggers/s "
        f"({batch_size}/request; {_goal(batch_rate >= 30000, '>= 30000')})  "
        f"p99 {batch.p99_ms:.1f} ms"
    )
    if flushes:
        click.echo(
            f"  group commit (single + paced): {flushed_rows:.0f} triggers in {flushes:.0f} "
            f"flushes, {flushed_rows / flushes:.1f} per flush"
        )
    if cpu:
        click.echo(
            "  server CPU per request (web processes; PostgreSQL backends of the database; "
            "steadier than req/s on a busy machine):"
        )
        for name, spent in cpu.items():
            done = results[name].requests_per_s * duration_s
            per = f"per trigger (/{batch_size})" if name == "batch" else "per request"
            scale = 1e6 / (done * (batch_size if name == "batch" else 1) or 1)
            click.echo(
                f"    {name:8s} web {spent.web_s * scale:6.0f} us  database "
                f"{spent.database_s * scale:6.0f} us  {per}"
            )
    click.echo(
        "  web-edge CPU per request (in one process, write stubbed; steadier on a busy machine):"
    )
    edge_dir = Path(tempfile.mkdtemp(prefix="crowdquake-bench-edge-"))
    try:
        edge = edge_cpu_us(Settings(database_url=database_url, instance_dir=str(edge_dir)))
    finally:
        shutil.rmtree(edge_dir, ignore_errors=True)
    click.echo(
        f"    trivial GET /healthz {edge['trivial']:.0f} us; single POST /triggers: lean path "
        f"{edge['lean']:.0f} us ({edge['lean'] / edge['trivial']:.2f}x trivial), Flask views "
        f"{edge['flask']:.0f} us ({edge['flask'] / edge['trivial']:.2f}x trivial)"
    )
    failures = {k: v.non_2xx for k, v in results.items() if v.non_2xx}
    if failures:
        raise click.ClickException(f"non-2xx responses during the run: {failures}")
