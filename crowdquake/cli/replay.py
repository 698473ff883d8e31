"""``crowdquake replay``: historical or simulated triggers through the detection pipeline."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from crowdquake.cli.replay_io import read_replay
from crowdquake.services.replay import ReplayData


@click.command()
@click.option(
    "--triggers",
    "triggers_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV: time, latitude, longitude, pga_ms2[, device_id, score].",
)
@click.option(
    "--heartbeats",
    "heartbeats_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV: device_id, latitude, longitude, time (the active phones).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help='Where to write {"events": [...]}.',
)
@click.option(
    "--api", help="Send the data to a running server (URL) instead, moved to the present."
)
@click.option(
    "--database-url", help="In-process mode: database to use (default: a temporary SQLite file)."
)
@click.option(
    "--tick", "tick_s", default=0.25, show_default=True, help="Sweeper period on the data clock, s."
)
def replay(
    triggers_csv: Path,
    heartbeats_csv: Path | None,
    json_out: Path,
    api: str | None,
    database_url: str | None,
    tick_s: float,
) -> None:
    """Replay triggers through the same pipeline code as the service.

    In-process (default) the data runs on its own clock against a fresh database, so
    `detected_at` is on the data's clock. With --api the triggers are posted over HTTP to a
    running server in real time, shifted to the present.
    """
    data = read_replay(triggers_csv, heartbeats_csv)
    click.echo(f"{len(data.triggers)} triggers, {len(data.heartbeats)} heartbeats", err=True)
    if api:
        from crowdquake.cli.http_replay import replay_over_http

        report = replay_over_http(api, data)
        events = report.events
        if report.errors:
            click.echo(f"rejected triggers by status: {dict(report.errors)}", err=True)
    else:
        events = _in_process(data, database_url, tick_s)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps({"events": events}, indent=2))
    click.echo(f"{len(events)} event(s) written to {json_out}", err=True)
    for e in events:
        click.echo(
            f"  {e['origin_time']}  M{e['magnitude'] or float('nan'):.1f}  "
            f"{e['latitude']:.3f} {e['longitude']:.3f}  {e['n_triggers']} triggers  "
            f"detected {e['detected_at']}"
        )


def _in_process(
    data: ReplayData, database_url: str | None, tick_s: float
) -> list[dict[str, object]]:
    from crowdquake.services.detection import PipelineConfig
    from crowdquake.services.replay import replay as run_replay
    from crowdquake.storage import migrate
    from crowdquake.storage.session import make_engine, make_session_factory

    workdir = None
    if database_url is None:
        workdir = tempfile.TemporaryDirectory(prefix="crowdquake-replay-")
        database_url = f"sqlite:///{workdir.name}/replay.sqlite3"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with click.progressbar(
            length=len(data.triggers), label="replaying", file=sys.stderr
        ) as bar:
            done = [0]

            def progress(i: int, _total: int) -> None:
                bar.update(i - done[0])
                done[0] = i

            return run_replay(
                make_session_factory(engine),
                data,
                PipelineConfig(),
                tick_s=tick_s,
                progress=progress,
            )
    finally:
        engine.dispose()
        if workdir is not None:
            workdir.cleanup()
