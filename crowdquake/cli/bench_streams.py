"""``crowdquake bench streams``: N open alert streams, one alert, while ingest load runs.

On loopback: ``crowdquake serve`` (gunicorn + the stream server) on PostgreSQL; N devices with a
heartbeat cell around San Francisco (written straight to the database); N SSE clients in one
asyncio process (``bench_streams_client``), each opened through the API's 307 like a phone;
wrk posting single triggers (``bench ingest``'s script). Printed: ingest requests/s without
streams and with the N streams open (the ratio is the cost of the streams), then the time from
the commit of one alert covering every device's cell until each client had it (p50/p95/max),
committed in the middle of the loaded phase. All processes share this machine's cores: the
clients and wrk compete with the server, so the figures are lower bounds.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import h3
from sqlalchemy import Engine

from crowdquake.cli.bench_ingest import _goal, _script, prepare_wrk_database, run_wrk
from crowdquake.cli.common import free_port, python_module, spawn, stop, wait_ready

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crowdquake_bench_streams"
SF = (37.7749, -122.4194)


def _create_devices(engine: Engine, n: int) -> tuple[list[str], list[str]]:
    """``n`` active devices with a fresh heartbeat in the H3 res-7 cells around San Francisco;
    returns (tokens, cells)."""
    from sqlalchemy import insert

    from crowdquake.storage.models import Device, DeviceState

    cells = sorted(h3.grid_disk(h3.latlng_to_cell(*SF, 7), 6))  # 127 cells, ~25 km across
    now = datetime.now(UTC)
    tokens: list[str] = []
    devices: list[dict[str, object]] = []
    states: list[dict[str, object]] = []
    for i in range(n):
        device_id = uuid.uuid4()
        secret = secrets.token_urlsafe(16)
        tokens.append(f"{device_id}.{secret}")
        devices.append(
            {
                "id": device_id,
                "token_hash": hashlib.sha256(secret.encode()).hexdigest(),
                "platform": "android",
                "app_version": "bench",
                "model_version": "bench",
                "created_at": now,
                "status": "active",
                "reputation": 1.0,
            }
        )
        cell = cells[i % len(cells)]
        lat, lon = h3.cell_to_latlng(cell)
        states.append(
            {
                "device_id": device_id,
                "cell": cell,
                "region_key": h3.cell_to_parent(cell, 2),
                "lat_deg": lat,
                "lon_deg": lon,
                "accuracy_m": 10.0,
                "steady": True,
                "charging": True,
                "app_version": "bench",
                "model_version": "bench",
                "clock_offset_s": 0.0,
                "last_heartbeat_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, n, 2000):
            conn.execute(insert(Device), devices[start : start + 2000])
            conn.execute(insert(DeviceState), states[start : start + 2000])
    return tokens, cells


def _commit_alert(engine: Engine, cells: list[str]) -> tuple[int, float]:
    """An M6 alert over ``cells``; returns (alert id, unix time right after the commit)."""
    from sqlalchemy.orm import Session

    from crowdquake.storage.models import Alert, Event, EventRevision

    now = datetime.now(UTC)
    with Session(engine) as session:
        event = Event(
            id=uuid.uuid4(),
            public_id=f"cqbench{uuid.uuid4().hex[:6]}",
            status="confirmed",
            region_key=h3.cell_to_parent(cells[0], 2),
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        session.flush()
        session.add(
            EventRevision(
                event_id=event.id,
                version=1,
                origin_time=now - timedelta(seconds=5),
                lat_deg=SF[0],
                lon_deg=SF[1],
                depth_km=8.0,
                magnitude=6.0,
                n_triggers=100,
                n_active=1000,
                method="bench",
                created_at=now,
            )
        )
        arrival = (now + timedelta(seconds=10)).isoformat()
        alert = Alert(
            event_id=event.id,
            revision=1,
            level="take_action",
            cells=[{"cell": c, "predicted_mmi": 6.0, "s_arrival_time": arrival} for c in cells],
            issued_at=now,
        )
        session.add(alert)
        session.commit()
        return alert.id, time.time()


def _stream_cpu_s(serve_pid: int) -> float:
    """CPU seconds (user + system) used so far by the stream server processes of ``crowdquake
    serve`` (Linux /proc): on a busy machine wall time says more about the neighbours."""
    import os

    total = 0.0
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children")
    for pid in children.read_text().split() if children.exists() else []:
        try:
            if b"stream" not in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@click.command("streams")
@click.option(
    "--database-url",
    default=DEFAULT_URL,
    show_default=True,
    help="PostgreSQL database to (re)create for the run.",
)
@click.option("--streams", "n_streams", default=10_000, show_default=True, help="Open streams.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per web worker.")
@click.option("--stream-processes", default=1, show_default=True, help="Stream server processes.")
@click.option("--duration", "duration_s", default=10, show_default=True, help="Seconds per phase.")
@click.option("--connections", default=32, show_default=True, help="wrk connections.")
@click.option(
    "--via-api/--direct",
    default=False,
    show_default=True,
    help="Open each stream through the API's 307 (a phone on the bare API) or with the bearer "
    "token at the stream server (a reverse proxy routing the path there).",
)
@click.option(
    "--open-timeout",
    "open_timeout_s",
    default=120.0,
    show_default=True,
    help="Seconds allowed for opening the streams; the rest are abandoned.",
)
def bench_streams(
    database_url: str,
    n_streams: int,
    workers: int,
    threads: int,
    stream_processes: int,
    duration_s: int,
    connections: int,
    via_api: bool,
    open_timeout_s: float,
) -> None:
    """Alert delivery to N open streams and ingest throughput with and without them."""
    from crowdquake.storage.session import make_engine

    prepare_wrk_database(database_url, "streams")
    engine = make_engine(database_url)
    port, stream_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="crowdquake-bench-streams-"))
    env = {
        "CROWDQUAKE_DATABASE_URL": database_url,
        "CROWDQUAKE_INSTANCE_DIR": str(workdir),
        "CROWDQUAKE_STREAM_BIND": f"127.0.0.1:{stream_port}",
        "CROWDQUAKE_STREAM_PROCESSES": str(stream_processes),
        "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "100000000",
        "CROWDQUAKE_LOG_LEVEL": "INFO",
    }
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
    clients: subprocess.Popen[str] | None = None
    try:
        wait_ready(base, timeout_s=180)
        click.echo(f"creating {n_streams} devices", err=True)
        tokens, cells = _create_devices(engine, n_streams)
        ingest_tokens = tokens[:50]
        script = _script(workdir, "single", ingest_tokens, "/api/v1/triggers", 0, 0)
        url = base + "/api/v1/triggers"
        click.echo(f"  ingest without streams, {duration_s} s ...", err=True)
        alone = run_wrk(url, script, duration_s=duration_s, connections=connections, threads=2)

        how = "through the API's 307" if via_api else "at the stream server"
        click.echo(f"  opening {n_streams} streams {how} ...", err=True)
        clients = subprocess.Popen(
            [sys.executable, "-m", "crowdquake.cli.bench_streams_client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert clients.stdin is not None and clients.stdout is not None
        config = {
            "api": f"127.0.0.1:{port}",
            "stream": f"127.0.0.1:{stream_port}",
            "via_api": via_api,
            "tokens": tokens,
            "concurrency": 500,
            "open_timeout_s": open_timeout_s,
        }
        clients.stdin.write(json.dumps(config) + "\n")
        clients.stdin.flush()
        started = time.monotonic()
        cpu_before = _stream_cpu_s(server.pid)
        first = clients.stdout.readline().split()
        open_s = time.monotonic() - started
        open_cpu_s = _stream_cpu_s(server.pid) - cpu_before
        n_open = int(first[1]) if len(first) > 1 else 0
        if first[:1] != ["open"] or n_open == 0:
            raise click.ClickException(f"streams failed: {' '.join(first)}")
        if len(first) > 2:
            click.echo(f"  an open failed: {' '.join(first[2:])}", err=True)
        received: dict[int, list[float]] = {}
        reader_out = clients.stdout

        def read_events() -> None:
            for line in reader_out:
                parts = line.split()
                if parts[:1] == ["got"]:
                    received.setdefault(int(parts[1]), []).append(float(parts[2]))

        threading.Thread(target=read_events, daemon=True).start()
        time.sleep(1.0)  # history sent, every stream idle
        click.echo(f"  ingest with {n_open} streams open, {duration_s} s ...", err=True)
        commit: list[tuple[int, float]] = []

        def commit_midway() -> None:
            time.sleep(duration_s / 2)
            commit.append(_commit_alert(engine, cells))

        committer = threading.Thread(target=commit_midway)
        committer.start()
        loaded = run_wrk(url, script, duration_s=duration_s, connections=connections, threads=2)
        committer.join()
        alert_id, committed_at = commit[0]
        deadline = time.monotonic() + 30
        while len(received.get(alert_id, [])) < n_open and time.monotonic() < deadline:
            time.sleep(0.1)
        delays = [t - committed_at for t in received.get(alert_id, [])]
        click.echo(f"  alert {alert_id} committed at {committed_at:.3f}", err=True)
    finally:
        if clients is not None:
            clients.kill()
            clients.wait()
        stop(server)
        engine.dispose()
    ratio = loaded.requests_per_s / alone.requests_per_s
    fan_outs = [
        line.split('"msg": "', 1)[-1].rstrip('"}')
        for line in (workdir / "web.log").read_text(errors="replace").splitlines()
        if "written to" in line and "stream_server" in line
    ]
    click.echo(
        f"\nstream server: {stream_processes} process(es); web: gunicorn {workers}x{threads}; "
        f"PostgreSQL; wrk {connections} connections; streams opened {how}"
    )
    click.echo(
        f"streams open:                 {n_open} of {n_streams} ({open_s:.1f} s to open; "
        f"stream server CPU {open_cpu_s:.1f} s, {1e6 * open_cpu_s / max(n_open, 1):.0f} µs "
        "per stream)"
    )
    click.echo(
        f"ingest, no streams:           {alone.requests_per_s:8.0f} req/s "
        f"(p50 {alone.p50_ms:.1f} ms, p99 {alone.p99_ms:.1f} ms)"
    )
    click.echo(
        f"ingest, {n_open} streams open: {loaded.requests_per_s:8.0f} req/s "
        f"(p50 {loaded.p50_ms:.1f} ms, p99 {loaded.p99_ms:.1f} ms), ratio {ratio:.2f}"
    )
    if delays:
        click.echo(
            f"alert delivery after commit:  {len(delays)} of {n_open} streams; "
            f"p50 {_percentile(delays, 0.5):.3f} s, p95 {_percentile(delays, 0.95):.3f} s, "
            f"max {max(delays):.3f} s"
        )
    else:
        click.echo("alert delivery after commit:  no stream received the alert")
    for line in fan_outs:  # one per stream process
        click.echo(f"stream server: {line}")
    p95 = _percentile(delays, 0.95) if delays else float("inf")
    click.echo(_goal(n_open >= 10_000 and len(delays) == n_open, "10,000 streams all served"))
    click.echo(_goal(p95 <= 1.0 and len(delays) == n_open, "p95 delivery <= 1 s to all"))
    click.echo(_goal(ratio >= 0.9, "ingest within 10% of its value without streams"))
