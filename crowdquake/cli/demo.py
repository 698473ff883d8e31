"""``crowdquake demo``: the whole service on embedded defaults, exercised through HTTP."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crowdquake.cli.common import free_port, load_settings, python_module, spawn, stop, wait_ready
from crowdquake.cli.http_replay import HttpReplayReport
from crowdquake.services.replay import ReplayData
from crowdquake.sim.catalog import Quake


@click.command()
@click.option("--port", type=int, default=None, help="Port for the API (default: a free one).")
@click.option(
    "--quake",
    default="Napa",
    show_default=True,
    help="Notable earthquake to replay (crowdquake/sim/data/notable_earthquakes.csv).",
)
@click.option(
    "--penetration",
    default=0.0005,
    show_default=True,
    help="Fraction of the population running the app.",
)
@click.option("--seed", default=1, show_default=True, help="Simulation seed.")
@click.option(
    "--after-origin-s",
    default=50.0,
    show_default=True,
    help="Replay the triggers from 5 s before the origin to this long after it (~98 % of the "
    "Napa simulation's; the later ones are far-field arrivals and background; 0: all).",
)
@click.option(
    "--keep-serving",
    is_flag=True,
    help="Leave API and worker running until Ctrl-C (the default when run in a terminal).",
)
def demo(
    port: int | None,
    quake: str,
    penetration: float,
    seed: int,
    after_origin_s: float,
    keep_serving: bool,
) -> None:
    """Start the API and a real worker, replay a real earthquake through HTTP, show the event.

    The earthquake's catalogue parameters are real (USGS ComCat); the phones around it are
    simulated (crowdquake.sim). Uses CROWDQUAKE_DATABASE_URL / CROWDQUAKE_BROKER_URL when set;
    otherwise a SQLite file and the server-less SQLite broker under instance/. Prints progress
    counts, the result against the catalogue, and its own wall time per step.
    """
    started = time.monotonic()
    from crowdquake.cli.http_replay import replay_over_http
    from crowdquake.cli.scenarios import earthquake_scenario
    from crowdquake.storage import migrate

    settings = load_settings()
    # SIGTERM (a supervisor, `timeout`) stops the API and the worker too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # One line for the schema instead of Alembic's line per migration (they are in the docs).
    logging.getLogger("alembic").setLevel(logging.WARNING)
    migrate.upgrade(settings.database_url)
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    click.echo(f"database: {settings.database_url.split('@')[-1]} (schema migrated to the latest)")
    click.echo(f"broker:   {settings.broker_url.split('@')[-1]}")
    logs = Path(settings.instance_dir).resolve() / "logs"
    web = spawn(
        # threads: keep-alive connections for the demo's concurrent client (sync workers close
        # every connection)
        python_module(
            "crowdquake.cli",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
        ),
        # Every simulated phone registers from this one address.
        # ... and registered seconds ago: without this they would all be on probation and
        # the event held for an operator (docs/science.md, "Spoofed triggers")
        env={
            "CROWDQUAKE_REGISTRATION_RATE_LIMIT_PER_MINUTE": "1000000",
            "CROWDQUAKE_TRUST_ALL_DEVICES": "1",
        },
        log_path=logs / "web.log",
    )
    worker = spawn(
        python_module("crowdquake.cli", "worker", "--pool", "solo", "--beat"),
        log_path=logs / "worker.log",
    )
    click.echo(f"logs:     {logs}/web.log, {logs}/worker.log")
    steps: dict[str, float] = {}
    try:
        mark = time.monotonic()
        # simulated while the API and the worker start
        scenario, data = earthquake_scenario(quake, penetration, seed)
        truth = scenario.quake
        assert truth is not None  # an earthquake scenario always has one
        n_simulated = len(data.triggers)
        if after_origin_s > 0:
            data = _around_origin(data, truth.origin_time_s, after_origin_s)
        steps["simulate the scenario"] = time.monotonic() - mark
        mark = time.monotonic()
        wait_ready(base)
        steps["start API and worker (rest)"] = time.monotonic() - mark
        click.echo(f"API listening on {base}  (OpenAPI: {base}/api/v1/openapi.json)")
        window = (
            f"the {len(data.triggers)} from 5 s before the origin to {after_origin_s:.0f} s "
            f"after it are replayed"
            if after_origin_s > 0
            else "all replayed"
        )
        click.echo(
            f"scenario: {truth.source.removeprefix('notable:')} M{truth.magnitude:.1f}, "
            f"{len(data.heartbeats)} steady phones, {n_simulated} triggers; {window} "
            f"(simulated phones, real catalogue event)"
        )
        mark = time.monotonic()
        report = replay_over_http(base, data, lead_s=2.0, settle_s=5.0)
        steps["register, heartbeats, replay, settle"] = time.monotonic() - mark
        _show(report, data, truth)
        click.echo(f"\nevents feed: {base}/api/v1/events   OpenAPI: {base}/api/v1/openapi.json")
        steps["total (demo wall time)"] = time.monotonic() - started
        click.echo("")
        for name, seconds in steps.items():
            click.echo(f"{name:40s}{seconds:8.1f} s")
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if interactive or keep_serving:
            username, password = _demo_operator(settings.database_url)
            click.echo(f"\noperator console: {base}/console/")
            click.echo(
                f"  log in as {username!r} with password {password!r} (admin; reset each run)"
            )
        if interactive or keep_serving:
            click.echo("serving; press Ctrl-C to stop")
            while web.poll() is None and worker.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop(web)
        stop(worker)


def _around_origin(data: ReplayData, origin_time_s: float, after_s: float) -> ReplayData:
    """The triggers from 5 s before the origin to ``after_s`` after it; every phone stays."""
    start = datetime.fromtimestamp(origin_time_s - 5.0, UTC)
    end = datetime.fromtimestamp(origin_time_s + after_s, UTC)
    return ReplayData([t for t in data.triggers if start <= t.time <= end], data.heartbeats)


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(143)


def _demo_operator(database_url: str) -> tuple[str, str]:
    """An admin login for the console, with a fresh random password each run."""
    from crowdquake.services.operators import ensure_operator
    from crowdquake.storage.session import make_engine, make_session_factory

    password = secrets.token_urlsafe(9)
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            ensure_operator(
                session,
                username="demo",
                password=password,
                role="admin",
                now=datetime.now(UTC),
                actor="demo",
            )
            session.commit()
    finally:
        engine.dispose()
    return "demo", password


def _show(report: HttpReplayReport, data: ReplayData, truth: Quake) -> None:
    from crowdquake.domain.geodesy import haversine_km

    shift = report.shift
    origin = datetime.fromtimestamp(truth.origin_time_s, UTC) + shift
    # this replay's events only (an earlier demo run's stay in the instance database)
    events = [
        e
        for e in report.events
        if abs((datetime.fromisoformat(e["origin_time"]) - origin).total_seconds()) <= 120.0
    ]
    click.echo(f"\nsent {report.sent} triggers; rejected: {dict(report.errors) or 'none'}")
    if not events:
        raise click.ClickException("no event detected: see the worker log")
    best = min(
        events,
        key=lambda e: haversine_km(e["latitude"], e["longitude"], truth.lat_deg, truth.lon_deg),
    )
    error_km = float(
        haversine_km(best["latitude"], best["longitude"], truth.lat_deg, truth.lon_deg)
    )
    detected = datetime.fromisoformat(best["detected_at"])
    revisions = best["revisions"] or [best]
    first, final = revisions[0], revisions[-1]
    w = 28  # column width
    click.echo(f"{'':22s}{'first estimate':>{w}s}{'final estimate':>{w}s}{'catalogue truth':>{w}s}")
    click.echo(
        f"{'origin time':22s}{_origin(first):>{w}s}{_origin(final):>{w}s}"
        f"{origin.isoformat()[11:23]:>{w}s}"
    )
    click.echo(
        f"{'latitude, longitude':22s}{_latlon(first):>{w}s}{_latlon(final):>{w}s}"
        f"{f'{truth.lat_deg:.3f}, {truth.lon_deg:.3f}':>{w}s}"
    )
    click.echo(
        f"{'epicentre error':22s}{_epi_error(first, truth):>{w}s}{_epi_error(final, truth):>{w}s}"
        f"{'':>{w}s}"
    )
    click.echo(
        f"{'magnitude (1 sigma)':22s}{_magnitude(first):>{w}s}{_magnitude(final):>{w}s}"
        f"{truth.magnitude:>{w}.1f}"
    )
    click.echo(
        f"{'magnitude error':22s}{_dm(first, truth):>{w}s}{_dm(final, truth):>{w}s}{'':>{w}s}"
    )
    click.echo(f"{'triggers':22s}{first['n_triggers']:>{w}d}{final['n_triggers']:>{w}d}")
    click.echo(
        f"location error {error_km:.1f} km; first published "
        f"{(detected - origin).total_seconds():.1f} s after origin; "
        f"{len(best['revisions'] or [])} revisions"
    )
    if len(events) > 1:
        click.echo(f"{len(events) - 1} other event(s) reported in the same period")


def _origin(rev: dict[str, Any]) -> str:
    sd = rev.get("origin_time_uncertainty_s")
    text = str(rev["origin_time"])[11:23]
    return f"{text} ± {sd:.1f} s" if sd is not None else text


def _latlon(rev: dict[str, Any]) -> str:
    sd = rev.get("horizontal_uncertainty_km")
    text = f"{rev['latitude']:.3f}, {rev['longitude']:.3f}"
    return f"{text} ± {sd:.1f} km" if sd is not None else text


def _epi_error(rev: dict[str, Any], truth: Quake) -> str:
    from crowdquake.domain.geodesy import haversine_km

    km = float(haversine_km(rev["latitude"], rev["longitude"], truth.lat_deg, truth.lon_deg))
    return f"{km:.1f} km"


def _magnitude(rev: dict[str, Any]) -> str:
    m, sd = rev.get("magnitude"), rev.get("magnitude_uncertainty")
    if m is None:
        return "-"
    return f"{m:.2f} ± {sd:.2f}" if sd is not None else f"{m:.2f}"


def _dm(rev: dict[str, Any], truth: Quake) -> str:
    m, sd = rev.get("magnitude"), rev.get("magnitude_uncertainty")
    if m is None:
        return "-"
    dm = m - truth.magnitude
    return f"{dm:+.2f} (z {dm / sd:+.1f})" if sd else f"{dm:+.2f}"
