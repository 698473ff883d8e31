"""Operator actions: status changes, alerts through the detector's alert path, the region kill
switch, device blocks, delivery re-sends, merges, notes, and their audit rows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import h3
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.domain.params import DetectionParams
from crowdquake.domain.types import EventEstimate, Hypocenter, MagnitudeEstimate
from crowdquake.services import review
from crowdquake.services.alerts import get_issued_alert
from crowdquake.services.devices import register_device
from crowdquake.services.errors import Conflict, InvalidInput, NotFound
from crowdquake.services.events import persist_estimate, region_alerts_enabled
from crowdquake.storage.models import Alert, AlertDelivery, AuditLog, Device, Event
from tests.factories import add_quake, quake_now

NAPA = (38.22, -122.31)
REGION = h3.latlng_to_cell(*NAPA, 2)


def make_event(
    session: Session, now: datetime, status: str = "held", magnitude: float | None = 5.5
) -> Event:
    quake = quake_now(
        now,
        public_id=f"cq2026{uuid.uuid4().hex[:8]}",
        lat_deg=NAPA[0],
        lon_deg=NAPA[1],
        depth_km=10.0,
        magnitude=magnitude,
        status=status,
        detector_key=f"k-{uuid.uuid4().hex[:6]}",
    )
    return add_quake(session, quake)


def audit_actions(session: Session, target: str) -> list[str]:
    return list(
        session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == target).order_by(AuditLog.id)
        )
    )


def test_release_confirms_writes_alerts_and_audits(session: Session, now: datetime) -> None:
    event = make_event(session, now)
    result = review.release(
        session,
        event.public_id,
        actor="ada",
        now=now,
        note="looks real",
        delivery_targets=("webhook:http://x",),
    )
    assert result.status == "confirmed" and result.alert_ids
    assert event.status == "confirmed"
    levels = set(session.scalars(select(Alert.level).where(Alert.event_id == event.id)))
    assert "be_aware" in levels
    # The released alerts are deliverable and queued for the configured webhook.
    assert get_issued_alert(session, result.alert_ids[0]).event_public_id == event.public_id
    queued = session.scalars(select(AlertDelivery.alert_id)).all()
    assert sorted(queued) == sorted(result.alert_ids)
    row = session.scalars(select(AuditLog).where(AuditLog.target_id == event.public_id)).one()
    assert (row.actor, row.action, row.details["note"]) == ("ada", "event.release", "looks real")
    # Releasing twice is a conflict, not a second set of alerts.
    with pytest.raises(Conflict):
        review.release(session, event.public_id, actor="ada", now=now)


def test_reject_withdraws_alerts_and_sticks(session: Session, now: datetime) -> None:
    event = make_event(session, now)
    alert_id = review.release(session, event.public_id, actor="ada", now=now).alert_ids[0]
    review.reject(session, event.public_id, actor="bob", now=now, note="quarry blast")
    assert event.status == "rejected"
    with pytest.raises(NotFound):
        get_issued_alert(session, alert_id)
    # A later estimate of the same detector key neither revives it nor starts a new event.
    estimate = EventEstimate(
        event_key=event.detector_key or "",
        hypocenter=Hypocenter((now - timedelta(seconds=8)).timestamp(), *NAPA, 10.0),
        magnitude=MagnitudeEstimate(5.6, 0.3),
        associations=(),
        n_active=300,
        detection_log10_p=-12.0,
        detected_at_s=now.timestamp(),
        confirmed=True,
        method="test",
    )
    result = persist_estimate(
        session, estimate, region_key=REGION, now=now, params=DetectionParams(), alerts_enabled=True
    )
    assert result.event_id is None and not result.alert_ids
    assert session.scalars(select(Event.status)).all() == ["rejected"]
    assert audit_actions(session, event.public_id) == ["event.release", "event.reject"]


def test_kill_switch_stops_alert_writes_without_restart(session: Session, now: datetime) -> None:
    assert region_alerts_enabled(session, REGION)
    review.set_region_alerts(session, REGION, False, actor="root", now=now, reason="drill")
    assert not region_alerts_enabled(session, REGION)
    event = make_event(session, now)
    assert review.release(session, event.public_id, actor="ada", now=now).alert_ids == ()
    assert event.status == "confirmed"
    assert session.scalars(select(Alert)).all() == []
    review.set_region_alerts(session, REGION, True, actor="root", now=now)
    other = make_event(session, now, status="candidate")
    assert review.confirm(session, other.public_id, actor="ada", now=now).alert_ids
    assert audit_actions(session, REGION) == ["region.alerts_off", "region.alerts_on"]


def test_region_key_and_notes_are_validated(session: Session, now: datetime) -> None:
    with pytest.raises(InvalidInput):
        review.set_region_alerts(session, "not-a-cell", False, actor="x", now=now)
    with pytest.raises(InvalidInput):  # a valid cell at the wrong resolution
        review.set_region_alerts(session, h3.latlng_to_cell(*NAPA, 5), False, actor="x", now=now)
    event = make_event(session, now)
    with pytest.raises(InvalidInput):
        review.annotate(session, event.public_id, "  ", actor="x", now=now)
    with pytest.raises(InvalidInput):
        review.annotate(session, event.public_id, "x" * 2001, actor="x", now=now)
    with pytest.raises(NotFound):
        review.confirm(session, "cq-nope", actor="x", now=now)


def test_merge_moves_triggers_and_annotate_is_audited(session: Session, now: datetime) -> None:
    a, b = make_event(session, now, "confirmed"), make_event(session, now, "candidate")
    result = review.merge(session, b.public_id, a.public_id, actor="ada", now=now)
    assert b.status == "merged" and b.merged_into_id == a.id and a.public_id in result.message
    with pytest.raises(Conflict):
        review.merge(session, b.public_id, a.public_id, actor="ada", now=now)
    with pytest.raises(InvalidInput):
        review.merge(session, a.public_id, a.public_id, actor="ada", now=now)
    review.annotate(session, a.public_id, "felt in Napa", actor="ada", now=now)
    assert audit_actions(session, a.public_id) == ["event.annotate"]


def test_device_block_and_delivery_resend(session: Session, now: datetime) -> None:
    device = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    review.set_device_blocked(session, str(device.device_id), True, actor="root", now=now)
    assert session.get(Device, device.device_id).status == "blocked"  # type: ignore[union-attr]
    review.set_device_blocked(session, str(device.device_id), False, actor="root", now=now)
    assert session.get(Device, device.device_id).status == "active"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        review.set_device_blocked(session, "nope", True, actor="root", now=now)
    with pytest.raises(NotFound):
        review.set_device_blocked(session, str(uuid.uuid4()), True, actor="root", now=now)

    event = make_event(session, now)
    alert_id = review.release(session, event.public_id, actor="ada", now=now).alert_ids[0]
    dead = AlertDelivery(
        alert_id=alert_id,
        target="webhook:x",
        status="dead",
        attempts=8,
        last_error="HTTP 500",
        updated_at=now,
    )
    session.add(dead)
    session.flush()
    review.resend_delivery(session, dead.id, actor="root", now=now)
    assert (dead.status, dead.attempts, dead.next_attempt_at) == ("pending", 0, now)
    with pytest.raises(Conflict):
        review.resend_delivery(session, dead.id, actor="root", now=now)


def _link_trigger(session: Session, event: Event, device_id: uuid.UUID, now: datetime) -> None:
    from crowdquake.storage.models import EventTrigger, Trigger

    trigger = Trigger(
        id=uuid.uuid4(),
        device_id=device_id,
        trigger_time=now - timedelta(seconds=5),
        received_at=now,
        clock_offset_s=0.0,
        lat_deg=NAPA[0],
        lon_deg=NAPA[1],
        accuracy_m=10.0,
        cell=h3.latlng_to_cell(*NAPA, 7),
        region_key=REGION,
        pga_ms2=0.5,
        score=0.9,
        model_version="m",
        body_digest=uuid.uuid4().hex,
    )
    session.add(trigger)
    session.flush()
    session.add(EventTrigger(event_id=event.id, trigger_id=trigger.id, phase="P", residual_s=0.1))
    session.flush()


def test_settling_an_event_feeds_its_devices_trust(session: Session, now: datetime) -> None:
    confirmed, rejected = make_event(session, now), make_event(session, now)
    honest = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    liar = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    _link_trigger(session, confirmed, honest.device_id, now)
    _link_trigger(session, rejected, liar.device_id, now)
    review.release(session, confirmed.public_id, actor="ada", now=now)
    review.reject(session, rejected.public_id, actor="ada", now=now)
    # Confirming an already confirmed event does not count the agreement twice.
    review.confirm(session, confirmed.public_id, actor="ada", now=now)
    honest_row, liar_row = (
        session.get(Device, honest.device_id),
        session.get(Device, liar.device_id),
    )
    assert honest_row is not None and liar_row is not None
    assert (honest_row.n_agree, honest_row.n_disagree) == (1, 0)
    assert (liar_row.n_agree, liar_row.n_disagree) == (0, 1)
