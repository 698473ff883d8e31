"""``crowdquake bench``: performance benchmarks that print figures against an in-run baseline."""

from __future__ import annotations

import click

from crowdquake.cli import LazyGroup

BENCHES: dict[str, str] = {
    "ingest": "crowdquake.cli.bench_ingest:bench_ingest",
    "pipeline": "crowdquake.cli.bench_pipeline:bench_pipeline",
    "association": "crowdquake.cli.bench_association:bench_association",
    "edge": "crowdquake.cli.bench_edge:bench_edge",
    "feeds": "crowdquake.cli.bench_feeds:bench_feeds",
    "streams": "crowdquake.cli.bench_streams:bench_streams",
    "soak": "crowdquake.cli.bench_soak:bench_soak",
}


@click.group(cls=LazyGroup, lazy_commands=BENCHES)
def bench() -> None:
    """Run a benchmark; each prints its figures and the ratio to a baseline of the same run."""
