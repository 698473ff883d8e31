"""Turning the detector's estimates into events, revisions, trigger links and alert rows.

Idempotent by construction: an estimate that matches the event's preferred revision writes
nothing; trigger links and alerts are inserted with ON CONFLICT DO NOTHING on their unique keys,
so a redelivered task cannot duplicate them.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from crowdquake.domain.alerting import decide_alerts
from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import EventEstimate, MagnitudeEstimate
from crowdquake.storage.models import (
    Alert,
    Event,
    EventRevision,
    EventTrigger,
    RegionAlertSwitch,
    Trigger,
)
from crowdquake.storage.queries import insert_ignoring_duplicates

AUTOMATIC_STATUSES = ("candidate", "confirmed")
# statuses the detector may still revise: automatic ones and those held for an operator
REVISABLE_STATUSES = (*AUTOMATIC_STATUSES, "held")
# Statuses an operator decided: later estimates of the same detector key leave the event alone
# (and do not start a new one).
OPERATOR_DECIDED_STATUSES = ("rejected", "merged")
# A new revision is written when the estimate moved at least this much.
MIN_MOVE_DEG = 0.005  # ~0.5 km
MIN_MAGNITUDE_CHANGE = 0.05
MIN_TRIGGER_GROWTH = 0.1  # relative change of the trigger count


@dataclass
class PersistResult:
    event_id: uuid.UUID | None = None
    created: bool = False
    revision: int | None = None
    alert_ids: list[int] = field(default_factory=list)


def epoch_to_datetime(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)


def find_event(session: Session, estimate: EventEstimate) -> Event | None:
    """The stored event an estimate continues: same detector key, else most shared triggers."""
    event = session.scalar(
        select(Event)
        .where(Event.detector_key == estimate.event_key, Event.status.in_(REVISABLE_STATUSES))
        .order_by(Event.created_at.desc())
        .limit(1)
    )
    if event is not None:
        return event
    ids = [uuid.UUID(a.trigger_id) for a in estimate.associations]
    if not ids:
        return None
    owners = Counter(
        session.scalars(select(EventTrigger.event_id).where(EventTrigger.trigger_id.in_(ids)))
    )
    for event_id, shared in owners.most_common():
        candidate = session.get(Event, event_id)
        enough = shared >= min(4, max(1, len(ids) // 2))
        if candidate is not None and candidate.status in REVISABLE_STATUSES and enough:
            return candidate
    return None


def _decided_by_operator(session: Session, event_key: str) -> bool:
    decided = session.scalar(
        select(Event.id)
        .where(Event.detector_key == event_key, Event.status.in_(OPERATOR_DECIDED_STATUSES))
        .limit(1)
    )
    return decided is not None


def region_alerts_enabled(session: Session, region_key: str) -> bool:
    """The region alert kill switch (``region_alert_switches``); no row means on."""
    enabled = session.scalar(
        select(RegionAlertSwitch.alerts_enabled).where(RegionAlertSwitch.region_key == region_key)
    )
    return enabled is None or bool(enabled)


def _preferred(session: Session, event: Event) -> EventRevision | None:
    if event.preferred_revision_id is None:
        return None
    return session.get(EventRevision, event.preferred_revision_id)


def _changed(previous: EventRevision | None, estimate: EventEstimate) -> bool:
    if previous is None:
        return True
    hypo = estimate.hypocenter
    magnitude = estimate.magnitude.magnitude if estimate.magnitude else None
    grown = estimate.n_triggers - previous.n_triggers
    if abs(grown) >= max(1, MIN_TRIGGER_GROWTH * previous.n_triggers):
        return True
    if abs(previous.lat_deg - hypo.lat_deg) > MIN_MOVE_DEG:
        return True
    if abs(previous.lon_deg - hypo.lon_deg) > MIN_MOVE_DEG:
        return True
    if (previous.magnitude is None) != (magnitude is None):
        return True
    return bool(
        magnitude is not None
        and previous.magnitude is not None
        and abs(previous.magnitude - magnitude) >= MIN_MAGNITUDE_CHANGE
    )


def persist_estimate(
    session: Session,
    estimate: EventEstimate,
    *,
    region_key: str,
    now: datetime,
    params: DetectionParams,
    alerts_enabled: bool,
    data_until: datetime | None = None,
) -> PersistResult:
    """Create or update the event an estimate describes; write alerts for a new revision."""
    result = PersistResult()
    event = find_event(session, estimate)
    if event is None and _decided_by_operator(session, estimate.event_key):
        return result
    if estimate.merged_into is not None:
        if event is not None:
            survivor = session.scalar(
                select(Event).where(Event.detector_key == estimate.merged_into).limit(1)
            )
            event.status = "merged"
            event.merged_into_id = survivor.id if survivor is not None else None
            event.updated_at = now
            result.event_id = event.id
        return result
    held = estimate.trust is not None and estimate.trust.held
    if event is None:
        event = Event(
            id=uuid.uuid4(),
            public_id=f"cq{epoch_to_datetime(estimate.hypocenter.origin_time_s):%Y}"
            f"{secrets.token_hex(4)}",
            status="held" if held else ("confirmed" if estimate.confirmed else "candidate"),
            region_key=region_key,
            detector_key=estimate.event_key,
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        session.flush()
        result.created = True
    result.event_id = event.id
    event.detector_key = estimate.event_key
    if event.status == "held" and not held:
        # trusted, independent evidence arrived (domain.evidence): the detector promotes it
        event.status = "candidate"
    if estimate.confirmed and event.status == "candidate":
        event.status = "confirmed"
    _link_triggers(session, event.id, estimate)
    previous = _preferred(session, event)
    if not _changed(previous, estimate):
        return result
    revision = _write_revision(session, event, previous, estimate, now)
    revision.data_until = data_until
    event.preferred_revision_id = revision.id
    event.updated_at = now
    result.revision = revision.version
    if (
        alerts_enabled
        and event.status == "confirmed"
        and not held
        and alert_magnitude(estimate) is not None
    ):
        result.alert_ids = write_alerts(session, event.id, revision.version, estimate, now, params)
    return result


def alert_magnitude(estimate: EventEstimate) -> MagnitudeEstimate | None:
    """The magnitude an alert may use: never above what trusted evidence supports."""
    if estimate.magnitude is None:
        return None
    trust = estimate.trust
    if trust is None:
        return estimate.magnitude
    if trust.alert_magnitude is None:
        return None
    if trust.alert_magnitude >= estimate.magnitude.magnitude:
        return estimate.magnitude
    return replace(estimate.magnitude, magnitude=trust.alert_magnitude)


def _write_revision(
    session: Session,
    event: Event,
    previous: EventRevision | None,
    estimate: EventEstimate,
    now: datetime,
) -> EventRevision:
    hypo = estimate.hypocenter
    magnitude = estimate.magnitude
    revision = EventRevision(
        event_id=event.id,
        version=(previous.version + 1) if previous is not None else 1,
        origin_time=epoch_to_datetime(hypo.origin_time_s),
        lat_deg=hypo.lat_deg,
        lon_deg=hypo.lon_deg,
        depth_km=hypo.depth_km,
        magnitude=magnitude.magnitude if magnitude else None,
        magnitude_uncertainty=magnitude.uncertainty if magnitude else None,
        horizontal_uncertainty_km=_finite(hypo.horizontal_uncertainty_km),
        depth_uncertainty_km=_finite(hypo.depth_uncertainty_km),
        origin_time_uncertainty_s=_finite(hypo.origin_time_uncertainty_s),
        n_triggers=estimate.n_triggers,
        n_active=estimate.n_active,
        detection_log10_p=_finite(estimate.detection_log10_p),
        method=estimate.method,
        created_at=now,
    )
    session.add(revision)
    session.flush()
    return revision


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _link_triggers(session: Session, event_id: uuid.UUID, estimate: EventEstimate) -> None:
    wanted = {uuid.UUID(a.trigger_id): a for a in estimate.associations}
    linked = set(
        session.scalars(select(EventTrigger.trigger_id).where(EventTrigger.event_id == event_id))
    )
    removed = linked - wanted.keys()
    if removed:
        session.execute(
            delete(EventTrigger).where(
                EventTrigger.event_id == event_id, EventTrigger.trigger_id.in_(removed)
            )
        )
        session.execute(
            update(Trigger)
            .where(Trigger.id.in_(removed), Trigger.event_id == event_id)
            .values(event_id=None, status="unassociated")
            .execution_options(synchronize_session=False)
        )
    added = [
        {"event_id": event_id, "trigger_id": tid, "phase": a.phase, "residual_s": a.residual_s}
        for tid, a in wanted.items()
        if tid not in linked
    ]
    if added:
        insert_ignoring_duplicates(
            session,
            EventTrigger.__table__,  # type: ignore[arg-type]
            added,
            key="trigger_id",
        )
        session.execute(
            update(Trigger)
            .where(Trigger.id.in_([row["trigger_id"] for row in added]))
            .values(event_id=event_id, status="associated")
            .execution_options(synchronize_session=False)
        )


def write_alerts(
    session: Session,
    event_id: uuid.UUID,
    revision: int,
    estimate: EventEstimate,
    now: datetime,
    params: DetectionParams,
) -> list[int]:
    """One alert row per level for this revision (unique: a replayed run adds nothing); none
    while the event's region has its alerts switched off (checked here, at every write, so an
    operator's switch takes effect without a restart). The magnitude is the alert magnitude:
    never above what trusted evidence supports (``alert_magnitude``)."""
    magnitude = alert_magnitude(estimate)
    if magnitude is None:
        return []
    region_key = session.scalar(select(Event.region_key).where(Event.id == event_id))
    if region_key is not None and not region_alerts_enabled(session, region_key):
        return []
    decision = decide_alerts(estimate.hypocenter, magnitude, now.timestamp(), params)
    rows: list[dict[str, Any]] = []
    for level in ("take_action", "be_aware"):
        cells = decision.by_level(level)
        if not cells:
            continue
        rows.append(
            {
                "event_id": event_id,
                "revision": revision,
                "level": level,
                "issued_at": now,
                "cells": [
                    {
                        "cell": c.cell,
                        "predicted_mmi": c.predicted_mmi,
                        "s_arrival_time": (now + timedelta(seconds=c.warning_time_s)).isoformat(),
                    }
                    for c in cells
                ],
            }
        )
    return sorted(
        insert_ignoring_duplicates(
            session,
            Alert.__table__,  # type: ignore[arg-type]
            rows,
            key="id",
        )
    )
