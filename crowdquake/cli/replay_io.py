"""Reading the replay CSV contract (docs/design.md) into ``ReplayData``."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import click

from crowdquake.services.replay import ReplayData, ReplayHeartbeat, ReplayTrigger


def _time(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{where}: {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise click.BadParameter(f"{where}: {text!r} has no time zone (use Z for UTC)")
    return value


def _float(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{where}: {text!r} is not a number") from None


def _rows(path: Path, required: set[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise click.BadParameter(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return list(reader)


def read_replay(triggers_csv: Path, heartbeats_csv: Path | None) -> ReplayData:
    """Triggers: time, latitude, longitude, pga_ms2 (empty = unknown), optional device_id,
    score, received_time. Heartbeats: device_id, latitude, longitude, time."""
    triggers = []
    for n, row in enumerate(_rows(triggers_csv, {"time", "latitude", "longitude", "pga_ms2"}), 2):
        where = f"{triggers_csv}:{n}"
        pga = row["pga_ms2"].strip()
        triggers.append(
            ReplayTrigger(
                time=_time(row["time"], where),
                lat_deg=_float(row["latitude"], where),
                lon_deg=_float(row["longitude"], where),
                pga_ms2=_float(pga, where) if pga else None,
                device_id=(row.get("device_id") or "").strip() or f"row-{n}",
                score=_float(row["score"], where) if (row.get("score") or "").strip() else 1.0,
                received=_time(row["received_time"], where)
                if (row.get("received_time") or "").strip()
                else None,
            )
        )
    heartbeats = []
    if heartbeats_csv is not None:
        required = {"device_id", "latitude", "longitude", "time"}
        for n, row in enumerate(_rows(heartbeats_csv, required), 2):
            where = f"{heartbeats_csv}:{n}"
            heartbeats.append(
                ReplayHeartbeat(
                    row["device_id"].strip(),
                    _float(row["latitude"], where),
                    _float(row["longitude"], where),
                    _time(row["time"], where),
                )
            )
    return ReplayData(triggers, heartbeats)
