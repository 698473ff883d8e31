"""``crowdquake worker``: a Celery worker (and optionally the beat scheduler) for the pipeline."""

from __future__ import annotations

import click

from crowdquake.cli.common import load_settings


@click.command()
@click.option("--concurrency", type=int, default=None, help="Worker processes (default: cores).")
@click.option("--beat/--no-beat", default=False, help="Also run the periodic scheduler in-process.")
@click.option("--pool", default=None, help="Celery pool (prefork, solo, threads).")
@click.option("--queues", "-Q", default=None, help="Comma-separated queues to consume.")
def worker(concurrency: int | None, beat: bool, pool: str | None, queues: str | None) -> None:
    """Run a Celery worker on CROWDQUAKE_BROKER_URL (embedded SQLite broker by default)."""
    from crowdquake.tasks import make_celery

    settings = load_settings()
    app = make_celery(settings)
    argv = ["worker", f"--loglevel={settings.log_level}", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if pool:
        argv.append(f"--pool={pool}")
    if beat:
        from pathlib import Path

        schedule = Path(settings.instance_dir).resolve() / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={schedule}"]
    if queues:
        argv.append(f"--queues={queues}")
    click.echo(f"crowdquake worker on {_redact(settings.broker_url)}", err=True)
    app.worker_main(argv)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
