"""``crowdquake bench association``: our association vs PyOcto, and one big streaming update."""

from __future__ import annotations

import sys

import click


@click.command("association")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--skip-pyocto", is_flag=True, help="Only time our association.")
def bench_association(seed: int, skip_pyocto: bool) -> None:
    """Picks/s, speed ratio and assignment F1 of our associator and PyOcto on the same
    simulated trigger sets; then one streaming update with 10,000 triggers in the window and
    100,000 active devices."""
    import numpy as np

    from crowdquake.domain.types import ActiveDevices
    from crowdquake.sim.assocbench import run_ours, run_pyocto, streaming_update_ms
    from crowdquake.sim.catalog import Quake
    from crowdquake.sim.population import draw_steady, place_phones
    from crowdquake.sim.scenario import Region, ScenarioSpec, build_scenario
    from crowdquake.sim.shaking import earthquake_triggers
    from crowdquake.sim.suites import YEAR_START_S

    have_pyocto = not skip_pyocto
    if have_pyocto:
        try:
            import pyocto  # noqa: F401
        except ImportError:
            have_pyocto = False
            click.echo(
                "pyocto not importable: install the [bench] extra in a separate venv "
                "(it pins numpy<2); timing ours only",
                err=True,
            )
    la = Region("los_angeles", 34.05, -118.25, 150.0)
    night = YEAR_START_S + 11 * 3600.0  # ~03:00 local in Los Angeles
    cases = [(4.5, 1e-4), (5.5, 1e-4), (6.5, 1e-4), (5.0, 3e-4)]
    click.echo(
        f"{'case':<16}{'triggers':>9}{'ours picks/s':>14}{'ours F1':>9}"
        f"{'pyocto picks/s':>16}{'pyocto F1':>11}{'ratio':>9}"
    )
    ratios = []
    with click.progressbar(cases, label="association", file=sys.stderr) as bar:
        for m, pen in bar:
            rng = np.random.default_rng([seed, int(m * 10), int(pen * 1e5)])
            q = Quake(f"M{m}", night, 34.0, -118.3, 10.0, m)
            sc = build_scenario(
                ScenarioSpec(f"M{m}-{pen:g}", "earthquake", la, pen, night, quake=q), rng
            )
            ours = run_ours(sc)
            line = (
                f"M{m} pen {pen:g}".ljust(16) + f"{ours.n_triggers:>9}"
                f"{ours.picks_per_s:>14.0f}{ours.f1:>9.3f}"
            )
            if have_pyocto:
                theirs = run_pyocto(sc)
                ratio = ours.picks_per_s / theirs.picks_per_s
                ratios.append(ratio)
                line += f"{theirs.picks_per_s:>16.0f}{theirs.f1:>11.3f}{ratio:>8.0f}x"
            click.echo(line)
    if ratios:
        click.echo(
            f"speed ratio ours/pyocto: median {np.median(ratios):.0f}x "
            f"(target >= 100x), min {min(ratios):.0f}x"
        )
    # One streaming update: 100,000 active devices and 10,000 triggers in the window.
    rng = np.random.default_rng([seed, 99])
    tokyo = place_phones(rng, 35.68, 139.69, 150.0, 3e-3)
    steady = draw_steady(rng, tokyo, YEAR_START_S + 18 * 3600.0)  # ~03:20 local in Tokyo
    idx = np.flatnonzero(steady)[:100_000]
    pop = tokyo.subset(idx)
    active = ActiveDevices(pop.device_ids, pop.lat_deg, pop.lon_deg)
    q = Quake("M6.8", YEAR_START_S + 18 * 3600.0, 35.6, 139.8, 15.0, 6.8)
    tab = earthquake_triggers(rng, q, pop, np.ones(len(pop), dtype=bool)).sorted_by_received()
    trig = tab.to_triggers(0, len(tab), "big")
    small_ms, batch_ms, n_batch = streaming_update_ms(active, trig, 10_000)
    click.echo(
        f"streaming update with 10000 triggers in the window and {len(active)} active "
        f"devices: +100 triggers took {small_ms:.1f} ms (target <= 100 ms); the next 0.5 s "
        f"batch ({n_batch} triggers) took {batch_ms:.1f} ms"
    )
