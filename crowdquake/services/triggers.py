"""Trigger ingest: idempotent on the client's UUID, durable once the edge commits."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crowdquake.domain.cells import cell_of, region_key
from crowdquake.services.errors import Conflict, FieldError, NotFound
from crowdquake.storage.models import Trigger
from crowdquake.storage.queries import insert_ignoring_duplicates, trigger_digests


@dataclass(frozen=True, slots=True)
class TriggerInput:
    """A validated trigger as the phone sent it (device clock)."""

    id: uuid.UUID
    device_time: datetime
    clock_offset_s: float
    lat_deg: float
    lon_deg: float
    accuracy_m: float
    pga_ms2: float | None
    score: float
    model_version: str
    phase_hint: str | None

    @property
    def trigger_time(self) -> datetime:
        """Device time corrected by the offset the phone measured (true = device + offset)."""
        return self.device_time + timedelta(seconds=self.clock_offset_s)

    def digest(self) -> str:
        """Canonical digest of the content, to tell a replay from a different body."""
        # repr of floats round-trips exactly, so equal bodies give equal digests. One f-string
        # (str() of the id and phase hint, repr() of the numbers), the cheapest way to build it.
        text = (
            f"{self.id}|{self.device_time.isoformat()}|{self.clock_offset_s!r}|"
            f"{self.lat_deg!r}|{self.lon_deg!r}|{self.accuracy_m!r}|{self.pga_ms2!r}|"
            f"{self.score!r}|{self.model_version}|{self.phase_hint}"
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IngestedTrigger:
    id: uuid.UUID
    created: bool
    trigger_time: datetime
    received_at: datetime
    region_key: str


def ingest_triggers(
    session: Session,
    device_id: uuid.UUID,
    triggers: Sequence[TriggerInput],
    *,
    now: datetime,
    cell_resolution: int,
    insert: Callable[[Sequence[dict[str, Any]]], set[uuid.UUID]] | None = None,
) -> list[IngestedTrigger]:
    """Insert new triggers, recognise exact replays, refuse a reused id with another body.

    All or nothing: a conflict raises before the edge commits, so the caller's rollback discards
    the rows inserted so far. ``insert`` replaces the insert in ``session`` by one that commits on
    its own (group commit of single-trigger requests): only for one trigger, which is then either
    inserted or, as a replay or conflict, writes nothing.
    """
    if insert is not None and len(triggers) != 1:
        raise ValueError("a self-committing insert takes exactly one trigger")
    rows: list[dict[str, Any]] = []
    results: dict[uuid.UUID, IngestedTrigger] = {}
    for item in triggers:
        key = region_key(item.lat_deg, item.lon_deg)
        trigger_time = item.trigger_time
        rows.append(
            {
                "id": item.id,
                "device_id": device_id,
                "trigger_time": trigger_time,
                "received_at": now,
                "clock_offset_s": item.clock_offset_s,
                "lat_deg": item.lat_deg,
                "lon_deg": item.lon_deg,
                "accuracy_m": item.accuracy_m,
                "cell": cell_of(item.lat_deg, item.lon_deg, cell_resolution),
                "region_key": key,
                "pga_ms2": item.pga_ms2,
                "score": item.score,
                "model_version": item.model_version,
                "phase_hint": item.phase_hint,
                "body_digest": item.digest(),
                "status": "new",
            }
        )
        results[item.id] = IngestedTrigger(item.id, True, trigger_time, now, key)
    if len(results) != len(rows):
        raise Conflict("the same trigger id appears twice in one request")

    if insert is None:
        inserted = insert_ignoring_duplicates(session, Trigger.__table__, rows)  # type: ignore[arg-type]
    else:
        inserted = insert(rows)
    existing_ids = [r["id"] for r in rows if r["id"] not in inserted]
    if existing_ids:
        existing = trigger_digests(session, existing_ids)
        errors = []
        for index, row in enumerate(rows):
            if row["id"] in inserted:
                continue
            owner, digest = existing[row["id"]]
            if owner != device_id or digest != row["body_digest"]:
                errors.append(
                    FieldError(
                        f"[{index}].id", "trigger id already used with another body", "conflict"
                    )
                )
            else:
                results[row["id"]] = _stored(session, row["id"])
        if errors:
            raise Conflict("trigger id reused with a different body", tuple(errors))
    return [results[r["id"]] for r in rows]


def _stored(session: Session, trigger_id: uuid.UUID) -> IngestedTrigger:
    trigger = session.get(Trigger, trigger_id)
    assert trigger is not None
    return IngestedTrigger(
        trigger.id, False, trigger.trigger_time, trigger.received_at, trigger.region_key
    )


def get_trigger(session: Session, device_id: uuid.UUID, trigger_id: uuid.UUID) -> Trigger:
    """A trigger of this device. Another device's trigger is reported as absent (no oracle)."""
    trigger = session.get(Trigger, trigger_id)
    if trigger is None or trigger.device_id != device_id:
        raise NotFound(f"no trigger {trigger_id}")
    return trigger
