"""Trigger ingest at the web edge, shared by the Flask views and the lean WSGI path.

Validated request models in, the ingest use case (``services.triggers.ingest_triggers``) and its
counters, response models out. Framework-free: the caller owns the session (and so the commit)
and hands the returned region keys to detection once the commit succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crowdquake.api import schemas
from crowdquake.services import triggers
from crowdquake.web import Container


def trigger_input(item: schemas.TriggerIn) -> triggers.TriggerInput:
    return triggers.TriggerInput(
        id=item.id,
        device_time=item.trigger_time,
        clock_offset_s=item.clock_offset_s,
        lat_deg=item.latitude,
        lon_deg=item.longitude,
        accuracy_m=item.accuracy_m,
        pga_ms2=item.pga_ms2,
        score=item.score,
        model_version=item.model_version,
        phase_hint=item.phase_hint,
    )


def ingest(
    services: Container,
    session: Session,
    device_id: uuid.UUID,
    items: Sequence[schemas.TriggerIn],
    *,
    now: datetime,
    group_commit: bool = False,
) -> tuple[list[triggers.IngestedTrigger], set[str]]:
    """Store ``items`` (``group_commit``: the one trigger of a single-trigger request, through
    the process's group commit when it has one). Returns the results and the region keys of the
    created triggers, for the after-commit hand-off to detection."""
    inserter = services.trigger_inserter if group_commit else None
    results = triggers.ingest_triggers(
        session,
        device_id,
        [trigger_input(item) for item in items],
        now=now,
        cell_resolution=services.settings.heartbeat_cell_resolution,
        insert=inserter.insert if inserter is not None else None,
    )
    created = [r.region_key for r in results if r.created]
    if created:
        services.metrics.triggers.labels("created").inc(len(created))
    if len(created) < len(results):
        services.metrics.triggers.labels("replayed").inc(len(results) - len(created))
    return results, set(created)


def accepted(result: triggers.IngestedTrigger) -> schemas.TriggerAccepted:
    return schemas.TriggerAccepted(
        id=result.id,
        created=result.created,
        trigger_time=result.trigger_time,
        received_at=result.received_at,
    )


def trigger_location(trigger_id: uuid.UUID) -> str:
    return f"/api/v1/triggers/{trigger_id}"
