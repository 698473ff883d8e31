"""Is detection running? The pipeline's heartbeat, written by a worker, read by ``/readyz``.

The beat scheduler queues ``crowdquake.ops.heartbeat`` every ``HEARTBEAT_INTERVAL_S``; the worker
that runs it stamps the ``detection`` row. The row is fresh only when the scheduler sends, the
broker carries and a consumer executes: the whole path the detection sweeps take. A stamp older
than ``HEARTBEAT_STALE_S`` (several missed beats plus queueing slack) means detection is not
running: the scheduler or every consumer is dead, hung, or cut off from the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdquake.storage.models import WorkerHeartbeat

DETECTION = "detection"
HEARTBEAT_INTERVAL_S = 5.0
HEARTBEAT_STALE_S = 30.0


@dataclass(frozen=True, slots=True)
class DetectionStatus:
    running: bool
    last_beat_age_s: float | None  # None: no worker ever ran against this database

    @property
    def label(self) -> str:
        return "running" if self.running else "not running"


def record_heartbeat(session: Session, now: datetime, worker: str, name: str = DETECTION) -> None:
    """Stamp ``name``'s heartbeat (the caller commits)."""
    result = session.execute(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .values(beat_at=now, worker=worker[:255])
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(WorkerHeartbeat(name=name, beat_at=now, worker=worker[:255]))


def detection_status(session: Session, now: datetime) -> DetectionStatus:
    beat_at = session.scalar(
        select(WorkerHeartbeat.beat_at).where(WorkerHeartbeat.name == DETECTION)
    )
    if beat_at is None:
        return DetectionStatus(running=False, last_beat_age_s=None)
    age_s = max(0.0, (now - beat_at).total_seconds())
    return DetectionStatus(running=age_s <= HEARTBEAT_STALE_S, last_beat_age_s=round(age_s, 1))
