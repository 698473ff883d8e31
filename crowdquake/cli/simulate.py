"""``crowdquake simulate``: write one simulated scenario as replay CSVs."""

from __future__ import annotations

from pathlib import Path

import click

SCENARIOS = ("earthquake", "noise", "storm", "building", "train", "notable", "usgs")


@click.command("simulate")
@click.option(
    "--scenario",
    type=click.Choice(SCENARIOS),
    default="earthquake",
    show_default=True,
    help="What to simulate.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for triggers.csv, heartbeats.csv, truth.json.",
)
@click.option(
    "--magnitude",
    type=float,
    default=5.5,
    show_default=True,
    help="Synthetic earthquake magnitude (3.5-8).",
)
@click.option(
    "--latitude",
    type=float,
    default=34.05,
    show_default=True,
    help="Region centre (default Los Angeles).",
)
@click.option("--longitude", type=float, default=-118.25, show_default=True)
@click.option("--radius-km", type=float, default=150.0, show_default=True)
@click.option(
    "--penetration",
    type=float,
    default=1e-3,
    show_default=True,
    help="Fraction of the population running the app (1e-4 .. 1e-2).",
)
@click.option(
    "--hours", type=float, default=6.0, show_default=True, help="Length of a noise-only period."
)
@click.option(
    "--event",
    "event_id",
    default=None,
    help="Catalogue event id for --scenario notable/usgs (default: the first).",
)
def simulate(
    scenario: str,
    seed: int,
    out_dir: Path,
    magnitude: float,
    latitude: float,
    longitude: float,
    radius_km: float,
    penetration: float,
    hours: float,
    event_id: str | None,
) -> None:
    """Simulate a scenario (seeded, reproducible) and write it to the replay CSV contract."""
    import numpy as np

    from crowdquake.sim.catalog import Quake, notable_earthquakes, usgs_week_2018
    from crowdquake.sim.csvio import write_scenario
    from crowdquake.sim.scenario import LookalikeKind, Region, ScenarioSpec, build_scenario
    from crowdquake.sim.suites import YEAR_START_S

    if not 1e-4 <= penetration <= 1e-2:
        raise click.BadParameter("must be within 1e-4 .. 1e-2", param_hint="--penetration")
    if not 3.5 <= magnitude <= 8.0:
        raise click.BadParameter("must be within 3.5 .. 8", param_hint="--magnitude")
    rng = np.random.default_rng(seed)
    region = Region("custom", latitude, longitude, radius_km)
    start = YEAR_START_S + 3 * 3600.0
    if scenario in ("notable", "usgs"):
        catalog = notable_earthquakes() if scenario == "notable" else usgs_week_2018()
        chosen = [q for q in catalog if event_id is None or q.event_id == event_id]
        if not chosen:
            raise click.BadParameter(f"unknown event {event_id}", param_hint="--event")
        q = chosen[0]
        region = Region(q.event_id, q.lat_deg, q.lon_deg, radius_km)
        spec = ScenarioSpec(q.event_id, "earthquake", region, penetration, q.origin_time_s, quake=q)
    elif scenario == "earthquake":
        q = Quake("synthetic-1", start, latitude, longitude, 10.0, magnitude)
        spec = ScenarioSpec(q.event_id, "earthquake", region, penetration, start, quake=q)
    elif scenario == "noise":
        spec = ScenarioSpec("noise", "noise", region, penetration, start, duration_s=hours * 3600.0)
    else:
        kind: LookalikeKind = (
            "storm" if scenario == "storm" else ("building" if scenario == "building" else "train")
        )
        spec = ScenarioSpec(
            scenario, "lookalike", region, penetration, start, duration_s=1800.0, lookalike=kind
        )
    click.echo(f"simulating {spec.name} ({spec.kind}) ...", err=True)
    built = build_scenario(spec, rng)
    counts = write_scenario(built, out_dir)
    click.echo(
        f"wrote {counts['triggers']} triggers and {counts['heartbeats']} heartbeats "
        f"to {out_dir} (detectable={built.detectable})"
    )
