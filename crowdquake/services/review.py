"""What an operator does to events, regions, devices and deliveries; each action is audited.

- ``confirm``: a candidate, held or rejected event becomes confirmed; alerts are written for its
  preferred revision through the detector's own alert path (``events.write_alerts``), which
  honours the region kill switch.
- ``release``: the same for a held event only (the detector held it for review).
- ``reject``: the event becomes "rejected"; its alerts are withdrawn at once (the alert API,
  streams and webhooks never deliver a rejected event's alerts) and later estimates of the same
  detector key do not bring it back.
- ``merge``: the event is a duplicate of another; its trigger links move to the survivor.
- ``annotate``: a free-text note kept in the audit log.
- ``set_region_alerts``: the per-region alert kill switch (effective at the next alert write).
- ``set_device_blocked``: block or unblock a phone.
- ``resend_delivery``: a dead webhook delivery becomes pending again (the periodic retry task
  sends it).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import h3
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import EventEstimate, Hypocenter, MagnitudeEstimate
from crowdquake.services.audit import record
from crowdquake.services.devices import set_device_status, settle_event_devices
from crowdquake.services.errors import Conflict, FieldError, InvalidInput, NotFound
from crowdquake.services.events import write_alerts
from crowdquake.storage.models import (
    AlertDelivery,
    Device,
    Event,
    EventRevision,
    EventTrigger,
    RegionAlertSwitch,
    Trigger,
)
from crowdquake.storage.queries import insert_ignoring_duplicates

MAX_NOTE_CHARS = 2000
CONFIRMABLE = ("candidate", "held", "confirmed", "rejected")
REJECTABLE = ("candidate", "held", "confirmed")


@dataclass(frozen=True, slots=True)
class ActionResult:
    target: str
    status: str
    alert_ids: tuple[int, ...] = ()
    message: str = ""


def get_event(session: Session, public_id: str) -> Event:
    event = session.scalar(select(Event).where(Event.public_id == public_id))
    if event is None:
        raise NotFound(f"no event {public_id}")
    return event


def _note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput("invalid note", (FieldError("note", f"at most {MAX_NOTE_CHARS} chars"),))
    return note


def _estimate_of(event: Event, revision: EventRevision) -> EventEstimate:
    nan = float("nan")
    magnitude = (
        MagnitudeEstimate(
            revision.magnitude,
            revision.magnitude_uncertainty if revision.magnitude_uncertainty is not None else nan,
        )
        if revision.magnitude is not None
        else None
    )
    return EventEstimate(
        event_key=event.detector_key or event.public_id,
        hypocenter=Hypocenter(
            origin_time_s=revision.origin_time.timestamp(),
            lat_deg=revision.lat_deg,
            lon_deg=revision.lon_deg,
            depth_km=revision.depth_km,
            horizontal_uncertainty_km=revision.horizontal_uncertainty_km or nan,
            depth_uncertainty_km=revision.depth_uncertainty_km or nan,
            origin_time_uncertainty_s=revision.origin_time_uncertainty_s or nan,
        ),
        magnitude=magnitude,
        associations=(),
        n_active=revision.n_active,
        detection_log10_p=(
            revision.detection_log10_p if revision.detection_log10_p is not None else -math.inf
        ),
        detected_at_s=revision.created_at.timestamp(),
        confirmed=True,
        method=revision.method,
    )


def _vouch(
    session: Session,
    public_id: str,
    action: str,
    allowed: Sequence[str],
    *,
    actor: str,
    now: datetime,
    note: str,
    params: DetectionParams | None,
    delivery_targets: Sequence[str],
) -> ActionResult:
    """Confirm the event (its status one of ``allowed``) and write its alerts; ``action`` names
    the operator's verb in the audit log."""
    event = get_event(session, public_id)
    if event.status not in allowed:
        raise Conflict(
            f"event {public_id} is {event.status}; {action} needs one of: {', '.join(allowed)}"
        )
    params = params or DetectionParams()
    previous = event.status
    event.status = "confirmed"
    event.updated_at = now
    if previous != "confirmed":
        # The event's devices agreed with a settled event: their trust grows.
        settle_event_devices(session, event.id, agree=True, params=params, now=now)
    alert_ids: list[int] = []
    revision = (
        session.get(EventRevision, event.preferred_revision_id)
        if event.preferred_revision_id is not None
        else None
    )
    if revision is not None and revision.magnitude is not None:
        alert_ids = write_alerts(
            session, event.id, revision.version, _estimate_of(event, revision), now, params
        )
    queue_deliveries(session, alert_ids, delivery_targets, now)
    session.flush()
    details: dict[str, object] = {"from": previous, "to": "confirmed", "alert_ids": alert_ids}
    if note := _note(note):
        details["note"] = note
    record(session, actor, action, "event", event.public_id, details, now)
    return ActionResult(event.public_id, "confirmed", tuple(alert_ids))


def queue_deliveries(
    session: Session, alert_ids: Sequence[int], targets: Sequence[str], now: datetime
) -> None:
    """Pending, due deliveries of new alerts to the configured publishers: the periodic retry
    task sends them (as the detector's own alerts are sent by a task it queues)."""
    rows = [
        {
            "alert_id": a,
            "target": t,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
        }
        for a in alert_ids
        for t in targets
    ]
    if rows:
        insert_ignoring_duplicates(session, AlertDelivery.__table__, rows)  # type: ignore[arg-type]


def confirm(
    session: Session,
    public_id: str,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    params: DetectionParams | None = None,
    delivery_targets: Sequence[str] = (),
) -> ActionResult:
    """The operator vouches for the event: confirmed, alerted for its preferred revision."""
    return _vouch(
        session,
        public_id,
        "event.confirm",
        CONFIRMABLE,
        actor=actor,
        now=now,
        note=note,
        params=params,
        delivery_targets=delivery_targets,
    )


def release(
    session: Session,
    public_id: str,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    params: DetectionParams | None = None,
    delivery_targets: Sequence[str] = (),
) -> ActionResult:
    """A held candidate is released: confirmed, and its alerts are written now."""
    return _vouch(
        session,
        public_id,
        "event.release",
        ("held",),
        actor=actor,
        now=now,
        note=note,
        params=params,
        delivery_targets=delivery_targets,
    )


def reject(
    session: Session,
    public_id: str,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    params: DetectionParams | None = None,
) -> ActionResult:
    """Not an earthquake: status rejected, so every alert of the event is withdrawn."""
    event = get_event(session, public_id)
    if event.status not in REJECTABLE:
        raise Conflict(
            f"event {public_id} is {event.status}; only {', '.join(REJECTABLE)} can be rejected"
        )
    previous = event.status
    event.status = "rejected"
    event.updated_at = now
    # Its devices reported something that was not an earthquake: their trust falls.
    settle_event_devices(
        session, event.id, agree=False, params=params or DetectionParams(), now=now
    )
    session.flush()
    details: dict[str, object] = {"from": previous, "to": "rejected"}
    if note := _note(note):
        details["note"] = note
    record(session, actor, "event.reject", "event", event.public_id, details, now)
    return ActionResult(event.public_id, "rejected")


def merge(
    session: Session, public_id: str, into_public_id: str, *, actor: str, now: datetime
) -> ActionResult:
    """``public_id`` is a duplicate of ``into_public_id``: status merged, triggers move over."""
    if public_id == into_public_id:
        raise InvalidInput(
            "invalid merge", (FieldError("into", "an event cannot merge into itself"),)
        )
    event = get_event(session, public_id)
    survivor = get_event(session, into_public_id)
    if event.status == "merged":
        raise Conflict(f"event {public_id} is already merged")
    if survivor.status in ("merged", "rejected", "cancelled"):
        raise Conflict(f"event {into_public_id} is {survivor.status}")
    links = session.execute(
        select(EventTrigger.trigger_id, EventTrigger.phase, EventTrigger.residual_s).where(
            EventTrigger.event_id == event.id
        )
    ).all()
    if links:
        insert_ignoring_duplicates(
            session,
            EventTrigger.__table__,  # type: ignore[arg-type]
            [
                {
                    "event_id": survivor.id,
                    "trigger_id": r.trigger_id,
                    "phase": r.phase,
                    "residual_s": r.residual_s,
                }
                for r in links
            ],
            key="trigger_id",
        )
        session.execute(
            update(Trigger)
            .where(Trigger.event_id == event.id)
            .values(event_id=survivor.id)
            .execution_options(synchronize_session=False)
        )
    previous = event.status
    event.status = "merged"
    event.merged_into_id = survivor.id
    event.updated_at = now
    survivor.updated_at = now
    session.flush()
    record(
        session,
        actor,
        "event.merge",
        "event",
        event.public_id,
        {"from": previous, "into": survivor.public_id, "triggers": len(links)},
        now,
    )
    return ActionResult(event.public_id, "merged", message=f"merged into {survivor.public_id}")


def annotate(
    session: Session, public_id: str, note: str, *, actor: str, now: datetime
) -> ActionResult:
    event = get_event(session, public_id)
    text = _note(note)
    if not text:
        raise InvalidInput("invalid note", (FieldError("note", "must not be empty"),))
    record(session, actor, "event.annotate", "event", event.public_id, {"note": text}, now)
    return ActionResult(event.public_id, event.status)


def check_region_key(region_key: str) -> str:
    key = region_key.strip().lower()
    if not h3.is_valid_cell(key) or h3.get_resolution(key) != 2:
        raise InvalidInput(
            "invalid region",
            (FieldError("region", "an H3 resolution-2 cell, e.g. 822837fffffffff"),),
        )
    return key


def set_region_alerts(
    session: Session, region_key: str, enabled: bool, *, actor: str, now: datetime, reason: str = ""
) -> ActionResult:
    """The per-region alert kill switch; a row with ``alerts_enabled`` false stops alert writes."""
    key = check_region_key(region_key)
    reason = _note(reason)
    switch = session.get(RegionAlertSwitch, key)
    if switch is None:
        switch = RegionAlertSwitch(region_key=key)
        session.add(switch)
    switch.alerts_enabled = enabled
    switch.reason = reason
    switch.updated_by = actor[:64]
    switch.updated_at = now
    session.flush()
    action = "region.alerts_on" if enabled else "region.alerts_off"
    record(session, actor, action, "region", key, {"reason": reason} if reason else {}, now)
    return ActionResult(key, "alerts on" if enabled else "alerts off")


def region_switches(session: Session) -> list[RegionAlertSwitch]:
    return list(session.scalars(select(RegionAlertSwitch).order_by(RegionAlertSwitch.region_key)))


def parse_device_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidInput("invalid device", (FieldError("device", "a device UUID"),)) from None


def set_device_blocked(
    session: Session, device_id: str, blocked: bool, *, actor: str, now: datetime, reason: str = ""
) -> ActionResult:
    """Block (or unblock) a phone: its token is refused and it leaves detection."""
    did = parse_device_id(device_id)
    if session.get(Device, did) is None:
        raise NotFound(f"no device {did}")
    status = "blocked" if blocked else "active"
    set_device_status(session, did, status)
    reason = _note(reason)
    action = "device.block" if blocked else "device.unblock"
    record(session, actor, action, "device", str(did), {"reason": reason} if reason else {}, now)
    return ActionResult(str(did), status)


def resend_delivery(
    session: Session, delivery_id: int, *, actor: str, now: datetime
) -> ActionResult:
    """A dead delivery is tried again from scratch by the periodic retry task."""
    row = session.get(AlertDelivery, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    if row.status != "dead":
        raise Conflict(f"delivery {delivery_id} is {row.status}, not dead")
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    row.updated_at = now
    session.flush()
    record(
        session,
        actor,
        "delivery.resend",
        "delivery",
        str(delivery_id),
        {"alert_id": row.alert_id, "target": row.target, "last_error": row.last_error},
        now,
    )
    return ActionResult(str(delivery_id), "pending")
