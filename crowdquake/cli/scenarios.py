"""Simulated scenarios as replay data, for ``replay``, ``demo`` and the pipeline benchmark."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from crowdquake.services.replay import ReplayData, ReplayHeartbeat, ReplayTrigger
from crowdquake.sim.catalog import Quake, notable_earthquakes
from crowdquake.sim.scenario import Region, Scenario, ScenarioSpec, build_scenario


def _utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(float(t_s), UTC)


def notable_quake(name: str) -> Quake:
    quakes = {q.source.removeprefix("notable:"): q for q in notable_earthquakes()}
    matches = [q for key, q in quakes.items() if name.lower() in key.lower()]
    if not matches:
        raise KeyError(f"no notable earthquake matches {name!r}; known: {sorted(quakes)}")
    return matches[0]


def earthquake_scenario(
    name: str = "Napa", penetration: float = 0.002, seed: int = 1, radius_km: float = 150.0
) -> tuple[Scenario, ReplayData]:
    """A real catalogue earthquake over the simulated phones around it: (scenario, data)."""
    quake = notable_quake(name)
    spec = ScenarioSpec(
        name=f"{name}-{penetration:g}",
        kind="earthquake",
        region=Region(name, quake.lat_deg, quake.lon_deg, radius_km),
        penetration=penetration,
        start_s=quake.origin_time_s,
        quake=quake,
    )
    scenario = build_scenario(spec, np.random.default_rng(seed))
    return scenario, scenario_to_replay(scenario)


def scenario_to_replay(scenario: Scenario) -> ReplayData:
    table = scenario.triggers
    snapshot = scenario.snapshots[0]
    triggers = [
        ReplayTrigger(
            time=_utc(table.time_s[i]),
            lat_deg=float(table.lat_deg[i]),
            lon_deg=float(table.lon_deg[i]),
            pga_ms2=float(table.pga_ms2[i]) if np.isfinite(table.pga_ms2[i]) else None,
            device_id=str(table.device_id[i]),
            received=_utc(table.received_s[i]),
        )
        for i in range(len(table))
    ]
    active = snapshot.active
    heartbeats = [
        ReplayHeartbeat(
            device_id=active.device_ids[k],
            lat_deg=float(active.lat_deg[k]),
            lon_deg=float(active.lon_deg[k]),
            time=_utc(snapshot.heartbeat_s[k]),
        )
        for k in range(len(active))
    ]
    return ReplayData(triggers, heartbeats)
