"""``crowdquake bench feeds``: the publication endpoints on gunicorn + PostgreSQL over a large
synthetic catalogue.

Printed, all from one run on this machine:

* requests/s of the cached GeoJSON day feed under wrk, against the trivial endpoint of the same
  server (ceiling) and the same events as GeoJSON rendered on every request (the FDSN query
  ``starttime=<24 h ago>&format=geojson``: same SQL and writer, no cache);
* p50/p95 latency per kind of FDSN event query (ten kinds: time windows, boxes, a radius,
  magnitude and depth ranges, magnitude order, paging, update time, one event by id; QuakeML,
  text and GeoJSON; fresh parameters per request; sequential keep-alive client) and over all of
  them, against the service's ``/version`` (floor) and the same queries with the catalogue
  indexes dropped, and the web processes' CPU time per request of each kind;
* an in-process profile of one example per kind (catalogue SQL, the rest of the reading,
  the document writer);
* EXPLAIN ANALYZE of the examples' SQL and the indexes each plan uses.

The catalogue (``--events``, default 100,000) is synthetic, with physically grounded
distributions: origin times a Poisson process over the past 365 days, stored oldest first as
a real catalogue grows; magnitudes Gutenberg-Richter with b = 1 above Mc = 1.5
(M = Mc - log10(U)/b, U uniform, capped at 8.5; Gutenberg & Richter 1944); 70 % of epicentres
scattered (sigma 2 degrees) around five active regions (California, Japan, Chile, Sumatra,
Anatolia), 30 % uniform on the sphere; depths 80 % crustal (exponential, mean 10 km, at most
40 km), 20 % slab (uniform 40-600 km); statuses 90 % confirmed, 5 % candidate, 3 % held, 2 %
rejected; a third of the events have 2-3 revisions.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from crowdquake.cli.bench_ingest import DEFAULT_URL, WrkResult, prepare_wrk_database, run_wrk
from crowdquake.cli.common import free_port, python_module, spawn, stop, wait_ready

REGIONS = [(37.5, -121.0), (36.0, 140.0), (-30.0, -71.0), (0.0, 98.0), (39.0, 35.0)]
CATALOG_INDEXES = {
    "ix_event_revisions_origin_time": "event_revisions (origin_time)",
    "ix_event_revisions_lat_lon": "event_revisions (lat_deg, lon_deg)",
    "ix_event_revisions_magnitude": "event_revisions (magnitude)",
    "ix_events_preferred_revision": "events (preferred_revision_id)",
    "ix_events_updated_at": "events (updated_at)",
    "ix_events_created_at": "events (created_at, public_id)",
}
TARGET_P95_MS = 100.0


def synthetic_catalogue(n: int, now: datetime, seed: int) -> list[dict[str, Any]]:
    """``n`` events as dicts (see the module docstring for the distributions)."""
    rng = random.Random(seed)
    out = []
    # A catalogue grows in time order (events are stored as they happen), so the rows are
    # numbered and loaded oldest first, as they lie in a real table.
    origins = sorted(now - timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(n))
    for i, origin in enumerate(origins):
        magnitude = min(8.5, 1.5 - math.log10(1.0 - rng.random()))
        if rng.random() < 0.7:
            lat0, lon0 = rng.choice(REGIONS)
            lat = max(-89.9, min(89.9, rng.gauss(lat0, 2.0)))
            lon = (rng.gauss(lon0, 2.0) + 180.0) % 360.0 - 180.0
        else:
            lat = math.degrees(math.asin(2.0 * rng.random() - 1.0))
            lon = rng.uniform(-180.0, 180.0)
        depth = min(40.0, rng.expovariate(0.1)) if rng.random() < 0.8 else rng.uniform(40, 600)
        u = rng.random()
        status = (
            "confirmed"
            if u < 0.90
            else "candidate"
            if u < 0.95
            else "held"
            if u < 0.98
            else "rejected"
        )
        out.append(
            {
                "public_id": f"cqb{i:07d}",
                "origin": origin,
                "lat": lat,
                "lon": lon,
                "depth": depth,
                "mag": round(magnitude, 2),
                "status": status,
                "revisions": 1 if i % 3 else rng.choice((2, 3)),
            }
        )
    return out


def load_catalogue(database_url: str, events: list[dict[str, Any]]) -> None:
    """COPY the events and their revisions, then point each event at its last revision."""
    from crowdquake.storage.session import make_engine

    engine = make_engine(database_url)
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cur:
            with cur.copy(
                "COPY events (id, public_id, status, region_key, created_at, updated_at) FROM STDIN"
            ) as copy:
                ids = []
                for e in events:
                    event_id = uuid.uuid4()
                    ids.append(event_id)
                    created = e["origin"] + timedelta(seconds=8)
                    copy.write_row(
                        (
                            event_id,
                            e["public_id"],
                            e["status"],
                            "bench",
                            created,
                            created + timedelta(seconds=4 * e["revisions"]),
                        )
                    )
            with cur.copy(
                "COPY event_revisions (event_id, version, origin_time, lat_deg, lon_deg, "
                "depth_km, magnitude, magnitude_uncertainty, horizontal_uncertainty_km, "
                "depth_uncertainty_km, origin_time_uncertainty_s, n_triggers, n_active, "
                "method, created_at) FROM STDIN"
            ) as copy:
                for event_id, e in zip(ids, events, strict=True):
                    for v in range(1, e["revisions"] + 1):
                        back = e["revisions"] - v
                        copy.write_row(
                            (
                                event_id,
                                v,
                                e["origin"],
                                e["lat"] - 0.02 * back,
                                e["lon"],
                                e["depth"],
                                e["mag"] - 0.1 * back,
                                0.3,
                                3.0,
                                6.0,
                                0.6,
                                8 + 4 * v,
                                400,
                                "bench",
                                e["origin"] + timedelta(seconds=4 + 4 * v),
                            )
                        )
            cur.execute(
                "UPDATE events SET preferred_revision_id = r.id FROM ("
                " SELECT DISTINCT ON (event_id) event_id, id FROM event_revisions"
                " ORDER BY event_id, version DESC) r WHERE r.event_id = events.id"
            )
            cur.execute("ANALYZE events")
            cur.execute("ANALYZE event_revisions")
        conn.commit()
    finally:
        raw.close()
        engine.dispose()


def fdsn_queries(
    now: datetime, seed: int, n_events: int
) -> dict[str, Callable[[], dict[str, str]]]:
    """Representative queries, one kind per way the service is used: recent activity as ObsPy
    asks it (QuakeML), time windows, boxes, radii, magnitude and depth ranges, paging, one event
    by id, catalogue synchronisation by update time; every format. Each call draws fresh
    parameters (different windows and places)."""
    rng = random.Random(seed)

    def day_ago(days: float) -> str:
        return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")

    def region() -> tuple[float, float]:
        return rng.choice(REGIONS)

    def box() -> dict[str, str]:
        lat, lon = region()
        end = rng.uniform(0, 358)  # a 7-day window somewhere in the year
        return {
            "starttime": day_ago(end + 7),
            "endtime": day_ago(end),
            "minlat": f"{lat - 3:.1f}",
            "maxlat": f"{lat + 3:.1f}",
            "minlon": f"{lon - 3:.1f}",
            "maxlon": f"{lon + 3:.1f}",
            "format": "text",
        }

    def box_geojson() -> dict[str, str]:
        lat, lon = region()
        end = rng.uniform(0, 335)  # a 30-day window somewhere in the year
        return {
            "starttime": day_ago(end + 30),
            "endtime": day_ago(end),
            "minlat": f"{lat - 5:.1f}",
            "maxlat": f"{lat + 5:.1f}",
            "minlon": f"{lon - 5:.1f}",
            "maxlon": f"{lon + 5:.1f}",
            "minmag": "2.5",
            "format": "geojson",
        }

    def month_m4() -> dict[str, str]:
        end = rng.uniform(0, 335)  # a 30-day window somewhere in the year
        return {"starttime": day_ago(end + 30), "endtime": day_ago(end), "minmag": "4"}

    def radius() -> dict[str, str]:
        lat, lon = region()
        return {
            "starttime": day_ago(30),
            "latitude": f"{lat:.2f}",
            "longitude": f"{lon:.2f}",
            "maxradius": "2",
            "format": "text",
        }

    def deep() -> dict[str, str]:
        end = rng.uniform(0, 275)  # a 90-day window somewhere in the year
        return {
            "starttime": day_ago(end + 90),
            "endtime": day_ago(end),
            "mindepth": "70",
            "maxdepth": "700",
            "orderby": "magnitude",
            "limit": "50",
            "format": "text",
        }

    return {
        # Clients ask at different moments: the start moves by up to 15 minutes.
        "last day, QuakeML": lambda: {"starttime": day_ago(1 + rng.uniform(0, 0.01))},
        "30 days M4+, QuakeML": month_m4,
        "box 6°, 7 days, text": box,
        "box 10°, 30 d, M2.5+, GeoJSON": box_geojson,
        "radius 2°, 30 days, text": radius,
        "year M5+, text": lambda: {"starttime": day_ago(365), "minmag": "5", "format": "text"},
        "deep, 90 d, by mag, limit 50": deep,
        "newest 100, text": lambda: {"limit": "100", "format": "text"},
        "updated last hour, QuakeML": lambda: {"updatedafter": day_ago(1 / 24)},
        "event by id, all origins": lambda: {
            "eventid": f"cqb{rng.randrange(0, n_events):07d}",
            "includeallorigins": "true",
            "includeallmagnitudes": "true",
            "includearrivals": "true",
        },
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def measure(
    base: str, queries: dict[str, Callable[[], dict[str, str]]], repeats: int
) -> dict[str, list[float]]:
    """``repeats`` requests per kind, the kinds interleaved (one of each per round), so that a
    burst of load from elsewhere on the machine spreads over every kind instead of one."""
    import httpx

    out: dict[str, list[float]] = {name: [] for name in queries}
    with httpx.Client(base_url=base + "/fdsnws/event/1", timeout=60) as http:
        for make in queries.values():
            http.get("/query", params=make())  # warm-up, not counted
        for _ in range(repeats):
            for name, make in queries.items():
                params = make()
                started = time.perf_counter()
                response = http.get("/query", params=params)
                elapsed = (time.perf_counter() - started) * 1000.0
                if response.status_code not in (200, 204):
                    raise click.ClickException(
                        f"{name}: {response.status_code} {response.text[:300]}"
                    )
                out[name].append(elapsed)
    return out


def web_cpu_s(serve_pid: int) -> float:
    """CPU seconds (user + system) used so far by ``crowdquake serve`` and its gunicorn workers
    (Linux /proc; stream server children left out)."""
    import os

    pids = [str(serve_pid)]
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children")
    pids += children.read_text().split() if children.exists() else []
    total = 0.0
    for pid in pids:
        try:
            if b" stream" in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" "):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure_cpu(
    base: str, serve_pid: int, queries: dict[str, Callable[[], dict[str, str]]], repeats: int
) -> dict[str, float]:
    """Web-process CPU ms per request of each kind (``repeats`` in a row per kind): what a
    request costs the server whatever the neighbours do, the database's share not included."""
    import httpx

    out: dict[str, float] = {}
    with httpx.Client(base_url=base + "/fdsnws/event/1", timeout=60) as http:
        for name, make in {"floor: /version": None, **queries}.items():
            before = web_cpu_s(serve_pid)
            for _ in range(repeats):
                if make is None:
                    http.get("/version").raise_for_status()
                else:
                    http.get("/query", params=make())
            out[name] = (web_cpu_s(serve_pid) - before) * 1000.0 / repeats
    return out


INDEX_USE = re.compile(
    r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)"
)


def indexes_in(plan: str) -> list[str]:
    """Names of the indexes an EXPLAIN plan scans, in order of first use.

    >>> indexes_in("Bitmap Index Scan on ix_a; Index Scan Backward using ix_b on t; Seq Scan")
    ['ix_a', 'ix_b']
    """
    return list(dict.fromkeys(INDEX_USE.findall(plan)))


def _parse(args: dict[str, str]) -> Any:
    from crowdquake.fdsn.params import parse_query

    return parse_query(
        {k: [v] for k, v in args.items()},
        catalog_id="crowdquake",
        contributor="crowdquake",
        magnitude_type="Mw",
        max_events=20000,
    )


def explain(database_url: str, examples: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """EXPLAIN ANALYZE of the catalogue SQL of one example of each query kind."""
    from crowdquake.storage.catalog import explain_plan
    from crowdquake.storage.session import make_engine, make_session_factory

    engine = make_engine(database_url)
    out = []
    with make_session_factory(engine)() as session:
        for name, args in examples.items():
            q = _parse(args).catalog
            plan = explain_plan(
                session, q.filter, order=q.order, limit=q.limit or 20001, offset=q.offset
            )
            out.append((name, plan))
    engine.dispose()
    return out


def profile(
    database_url: str, examples: dict[str, dict[str, str]], repeats: int = 5
) -> list[tuple[str, int, float, float, float]]:
    """Where a query's time goes, in this process (no HTTP): median ms of the catalogue SQL
    (the page of events), of the rest of the reading (review marks, revisions, picks; objects)
    and of writing the document, with the number of events, for one example per kind."""
    from crowdquake.services.catalog import published_events
    from crowdquake.services.formats.fdsntext import render_text
    from crowdquake.services.formats.geojson import render_geojson
    from crowdquake.services.formats.quakeml import render_quakeml
    from crowdquake.storage.catalog import find_events
    from crowdquake.storage.session import make_engine, make_session_factory

    engine = make_engine(database_url)
    out = []
    with make_session_factory(engine)() as session:
        for name, args in examples.items():
            parsed = _parse(args)
            q = parsed.catalog
            sql, reading, writing = [], [], []
            n = 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                find_events(session, q.filter, order=q.order, limit=q.limit, offset=q.offset)
                t1 = time.perf_counter()
                events = published_events(session, q)
                t2 = time.perf_counter()
                if parsed.format == "text":
                    render_text(events, agency="crowdquake", catalog_id="crowdquake")
                elif parsed.format == "geojson":
                    render_geojson(
                        events,
                        generated=datetime.now(UTC),
                        url="http://bench/query",
                        title="bench",
                        detail_url="http://bench/{id}",
                        page_url="http://bench/{id}",
                    )
                else:
                    render_quakeml(
                        events,
                        authority="org.example",
                        agency="crowdquake",
                        catalog_id="crowdquake",
                        all_origins=parsed.all_origins,
                        all_magnitudes=parsed.all_magnitudes,
                    )
                t3 = time.perf_counter()
                session.rollback()
                n = len(events)
                sql.append((t1 - t0) * 1000.0)
                # published_events runs the page query again, then the rest
                reading.append(max(0.0, (t2 - t1) - (t1 - t0)) * 1000.0)
                writing.append((t3 - t2) * 1000.0)
            out.append(
                (
                    name,
                    n,
                    statistics.median(sql),
                    statistics.median(reading),
                    statistics.median(writing),
                )
            )
    engine.dispose()
    return out


def _serve(
    database_url: str, workdir: Path, workers: int, threads: int, cache_s: str
) -> tuple[Any, str]:
    port = free_port()
    env = {
        "CROWDQUAKE_DATABASE_URL": database_url,
        "CROWDQUAKE_INSTANCE_DIR": str(workdir),
        "CROWDQUAKE_LOG_LEVEL": "WARNING",
        "CROWDQUAKE_FEED_CACHE_S": cache_s,
        "CROWDQUAKE_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    args = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    args += ["--threads", str(threads)]
    server = spawn(
        python_module("crowdquake.cli", *args), env=env, log_path=workdir / f"web-{port}.log"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
    except BaseException:
        stop(server)
        raise
    return server, base


def _summary(name: str, values: list[float]) -> str:
    return (
        f"  {name:30s} p50 {statistics.median(values):7.1f} ms   "
        f"p95 {_percentile(values, 0.95):7.1f} ms"
    )


@click.command("feeds")
@click.option(
    "--database-url",
    envvar="CROWDQUAKE_BENCH_DATABASE_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="PostgreSQL database to recreate for the run.",
)
@click.option("--events", "n_events", default=100_000, show_default=True, help="Catalogue size.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="Threads per worker.")
@click.option(
    "--duration", "duration_s", default=10, show_default=True, help="Seconds per wrk run."
)
@click.option("--connections", default=32, show_default=True, help="wrk connections.")
@click.option("--repeats", default=40, show_default=True, help="Requests per FDSN query kind.")
@click.option("--seed", default=1, show_default=True, help="Seed of the synthetic catalogue.")
def bench_feeds(
    database_url: str,
    n_events: int,
    workers: int,
    threads: int,
    duration_s: int,
    connections: int,
    repeats: int,
    seed: int,
) -> None:
    """Cached GeoJSON feed throughput and FDSN query latency over a large catalogue."""
    from sqlalchemy import text

    from crowdquake.storage.session import make_engine

    prepare_wrk_database(database_url, "feeds")
    now = datetime.now(UTC)
    started = time.perf_counter()
    load_catalogue(database_url, synthetic_catalogue(n_events, now, seed))
    click.echo(f"loaded {n_events:,} events in {time.perf_counter() - started:.0f} s", err=True)
    examples = {name: make() for name, make in fdsn_queries(now, seed + 1, n_events).items()}
    plans = explain(database_url, examples)
    phases = profile(database_url, examples)

    workdir = Path(tempfile.mkdtemp(prefix="crowdquake-bench-feeds-"))
    trivial_lua = workdir / "get.lua"
    trivial_lua.write_text('wrk.method = "GET"\n')
    wrk: dict[str, WrkResult] = {}
    queries = fdsn_queries(now, seed, n_events)
    try:
        server, base = _serve(database_url, workdir, workers, threads, "5")
        try:
            day = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
            for name, path in (
                ("trivial", "/healthz"),
                ("cached day feed", "/api/v1/feeds/day.geojson"),
                ("uncached day GeoJSON", f"/fdsnws/event/1/query?starttime={day}&format=geojson"),
            ):
                click.echo(f"  wrk {name} {duration_s} s ...", err=True)
                wrk[name] = run_wrk(
                    base + path,
                    trivial_lua,
                    duration_s=duration_s,
                    connections=connections,
                    threads=2,
                )
            click.echo("  FDSN queries ...", err=True)
            floor = measure_version(base, repeats)
            latencies = measure(base, queries, repeats)
            cpu = measure_cpu(base, server.pid, queries, repeats)
            engine = make_engine(database_url)
            with engine.begin() as conn:
                for index in CATALOG_INDEXES:
                    conn.execute(text(f"DROP INDEX {index}"))
            click.echo("  FDSN queries without the catalogue indexes ...", err=True)
            baseline = measure(base, queries, max(5, repeats // 4))
            with engine.begin() as conn:
                for index, target in CATALOG_INDEXES.items():
                    conn.execute(text(f"CREATE INDEX {index} ON {target}"))
            engine.dispose()
        finally:
            stop(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    click.echo(
        f"\nfeeds benchmark: {n_events:,} events, gunicorn {workers}x{threads} + PostgreSQL on "
        "loopback, load generators on the same cores"
    )
    trivial = wrk["trivial"].requests_per_s
    for name, result in wrk.items():
        click.echo(
            f"  {name:22s} {result.requests_per_s:9.0f} req/s  ratio to trivial "
            f"{result.requests_per_s / trivial:5.2f}  p50 {result.p50_ms:6.1f} ms  "
            f"p99 {result.p99_ms:6.1f} ms  non-2xx {result.non_2xx}"
        )
    cached = wrk["cached day feed"].requests_per_s
    uncached = wrk["uncached day GeoJSON"].requests_per_s
    click.echo(f"  cache speed-up: {cached / uncached:.1f}x")

    click.echo(f"\nFDSN event queries ({repeats} each, kinds interleaved, sequential, keep-alive)")
    click.echo(
        f"{_summary('floor: /version', floor)}   web CPU {cpu['floor: /version']:6.1f} ms/request"
    )
    everything: list[float] = []
    for name, values in latencies.items():
        everything += values
        slow = baseline[name]
        click.echo(
            f"{_summary(name, values)}   without indexes p95 {_percentile(slow, 0.95):7.1f} ms"
            f"   web CPU {cpu[name]:6.1f} ms/request"
        )
    p95 = _percentile(everything, 0.95)
    verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
    click.echo(f"  all queries: p95 {p95:.1f} ms (target <= {TARGET_P95_MS:.0f} ms: {verdict})")

    click.echo("\nIn-process profile, one example per kind (median of 5, ms)")
    click.echo(f"  {'query':30s} {'events':>6s} {'page SQL':>9s} {'rest read':>9s} {'writer':>9s}")
    for name, n, sql_ms, read_ms, write_ms in phases:
        click.echo(f"  {name:30s} {n:6d} {sql_ms:9.1f} {read_ms:9.1f} {write_ms:9.1f}")

    click.echo("\nEXPLAIN ANALYZE of the catalogue SQL (the same examples)")
    for name, plan in plans:
        used = indexes_in(plan)
        args = "&".join(f"{k}={v}" for k, v in examples[name].items())
        click.echo(f"-- {name} ({args})\n-- indexes used: {', '.join(used) or 'NONE'}\n{plan}\n")


def measure_version(base: str, repeats: int) -> list[float]:
    import httpx

    out = []
    with httpx.Client(base_url=base, timeout=10) as http:
        http.get("/fdsnws/event/1/version")
        for _ in range(repeats):
            started = time.perf_counter()
            http.get("/fdsnws/event/1/version").raise_for_status()
            out.append((time.perf_counter() - started) * 1000.0)
    return out
