"""Write a scenario to the replay CSV contract (``crowdquake replay`` reads these files).

* triggers CSV: ``time`` (ISO 8601 UTC), ``latitude``, ``longitude``, ``pga_ms2``, ``device_id``,
  ``score``, plus ``received`` (server arrival, ISO 8601) and ``label`` (ground truth: event id,
  empty for background noise, ``lookalike:<kind>``) which readers of the contract may ignore;
* heartbeats CSV: ``device_id, latitude, longitude, time``: the last heartbeat of every steady
  device of every snapshot;
* ``truth.json``: the earthquake (if any) and the scenario's parameters.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from crowdquake.sim.scenario import Scenario


def iso_utc(time_s: float) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``.

    >>> iso_utc(0.25)
    '1970-01-01T00:00:00.250Z'
    """
    text = datetime.fromtimestamp(time_s, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def write_triggers_csv(scenario: Scenario, path: Path) -> int:
    tab = scenario.triggers
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["time", "latitude", "longitude", "pga_ms2", "device_id", "score", "received", "label"]
        )
        for i in range(len(tab)):
            w.writerow(
                [
                    iso_utc(float(tab.time_s[i])),
                    f"{tab.lat_deg[i]:.6f}",
                    f"{tab.lon_deg[i]:.6f}",
                    f"{tab.pga_ms2[i]:.5f}",
                    tab.device_id[i],
                    "1.0",
                    iso_utc(float(tab.received_s[i])),
                    tab.label[i],
                ]
            )
    return len(tab)


def write_heartbeats_csv(scenario: Scenario, path: Path) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["device_id", "latitude", "longitude", "time"])
        for snap in scenario.snapshots:
            act = snap.active
            for i, dev in enumerate(act.device_ids):
                w.writerow(
                    [
                        dev,
                        f"{act.lat_deg[i]:.6f}",
                        f"{act.lon_deg[i]:.6f}",
                        iso_utc(float(snap.heartbeat_s[i])),
                    ]
                )
                n += 1
    return n


def write_truth_json(scenario: Scenario, path: Path) -> None:
    q = scenario.quake
    spec = scenario.spec
    doc = {
        "scenario": scenario.name,
        "kind": spec.kind,
        "region": {
            "name": spec.region.name,
            "latitude": spec.region.lat_deg,
            "longitude": spec.region.lon_deg,
            "radius_km": spec.region.radius_km,
        },
        "penetration": spec.penetration,
        "lookalike": spec.lookalike,
        "start": iso_utc(scenario.start_s),
        "end": iso_utc(scenario.end_s),
        "detectable": scenario.detectable,
        "background_rate_per_hour": scenario.background_rate_per_hour,
        "earthquake": None
        if q is None
        else {
            "event_id": q.event_id,
            "origin_time": iso_utc(q.origin_time_s),
            "latitude": q.lat_deg,
            "longitude": q.lon_deg,
            "depth_km": q.depth_km,
            "magnitude": q.magnitude,
            "source": q.source,
        },
    }
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def write_scenario(scenario: Scenario, out_dir: Path) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    n_trig = write_triggers_csv(scenario, out_dir / "triggers.csv")
    n_hb = write_heartbeats_csv(scenario, out_dir / "heartbeats.csv")
    write_truth_json(scenario, out_dir / "truth.json")
    return {"triggers": n_trig, "heartbeats": n_hb}
