"""Trigger ingest as a use case, on the savepoint-rollback session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdquake.services.devices import authenticate_device, register_device
from crowdquake.services.errors import Conflict, Forbidden, NotFound, Unauthorized
from crowdquake.services.triggers import TriggerInput, get_trigger, ingest_triggers
from crowdquake.storage.models import Trigger


def make_input(now: datetime, **overrides: object) -> TriggerInput:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "device_time": now - timedelta(seconds=1),
        "clock_offset_s": 0.5,
        "lat_deg": 38.0,
        "lon_deg": 23.7,
        "accuracy_m": 10.0,
        "pga_ms2": 0.2,
        "score": 0.9,
        "model_version": "m",
        "phase_hint": None,
    }
    values.update(overrides)
    return TriggerInput(**values)  # type: ignore[arg-type]


def test_ingest_is_idempotent_and_detects_conflicts(session: Session, now: datetime) -> None:
    device = register_device(
        session, platform="android", app_version="1", model_version="m", now=now
    )
    item = make_input(now)
    (first,) = ingest_triggers(session, device.device_id, [item], now=now, cell_resolution=7)
    assert first.created and first.trigger_time == item.device_time + timedelta(seconds=0.5)
    (again,) = ingest_triggers(session, device.device_id, [item], now=now, cell_resolution=7)
    assert not again.created and again.region_key == first.region_key
    with pytest.raises(Conflict):
        ingest_triggers(
            session,
            device.device_id,
            [make_input(now, id=item.id, score=0.1)],
            now=now,
            cell_resolution=7,
        )
    with pytest.raises(Conflict):
        dup = make_input(now)
        ingest_triggers(session, device.device_id, [dup, dup], now=now, cell_resolution=7)
    assert session.scalar(select(func.count()).select_from(Trigger)) == 1


def test_authentication_and_ownership(session: Session, now: datetime) -> None:
    a = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    b = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    assert authenticate_device(session, a.token).device_id == a.device_id
    for bad in (None, "", "garbage", f"{a.device_id}.wrong", f"{uuid.uuid4()}.x"):
        with pytest.raises(Unauthorized):
            authenticate_device(session, bad)
    item = make_input(now)
    ingest_triggers(session, a.device_id, [item], now=now, cell_resolution=7)
    assert get_trigger(session, a.device_id, item.id).id == item.id
    with pytest.raises(NotFound):
        get_trigger(session, b.device_id, item.id)
    from crowdquake.services.devices import set_device_status

    set_device_status(session, b.device_id, "blocked")
    with pytest.raises(Forbidden):
        authenticate_device(session, b.token)


def test_a_self_committing_insert_takes_one_trigger_and_keeps_replay_rules(
    session: Session, now: datetime
) -> None:
    """The group-commit hook: its rows go through ``insert``; what it did not insert is
    judged as a replay or a conflict against the stored row, as on the plain path."""
    from crowdquake.storage.queries import insert_ignoring_duplicates

    device = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    seen: list[int] = []

    def insert(rows: object) -> set[uuid.UUID]:
        seen.append(len(rows))  # type: ignore[arg-type]
        return insert_ignoring_duplicates(session, Trigger.__table__, rows)  # type: ignore[arg-type]

    item = make_input(now)
    (first,) = ingest_triggers(
        session, device.device_id, [item], now=now, cell_resolution=7, insert=insert
    )
    (again,) = ingest_triggers(
        session, device.device_id, [item], now=now, cell_resolution=7, insert=insert
    )
    assert first.created and not again.created and seen == [1, 1]
    with pytest.raises(Conflict):
        changed = make_input(now, id=item.id, score=0.2)
        ingest_triggers(
            session, device.device_id, [changed], now=now, cell_resolution=7, insert=insert
        )
    with pytest.raises(ValueError, match="exactly one"):
        two = [make_input(now), make_input(now)]
        ingest_triggers(session, device.device_id, two, now=now, cell_resolution=7, insert=insert)
    assert session.scalar(select(func.count()).select_from(Trigger)) == 1


def test_the_body_digest_of_stored_triggers_never_changes() -> None:
    """Stored rows keep the digest they were written with (up to the retention period): a new
    formula would answer a replay of an old trigger with 409 instead of 200. The value was
    computed by the original "|".join formula."""
    item = TriggerInput(
        id=uuid.UUID("6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f"),
        device_time=datetime(2026, 11, 25, 11, 59, 58, 250000, tzinfo=UTC),
        clock_offset_s=0.25,
        lat_deg=37.87,
        lon_deg=-122.26,
        accuracy_m=15.0,
        pga_ms2=None,
        score=0.93,
        model_version="cq-edge-1",
        phase_hint="P",
    )
    assert item.digest() == "1d800fa382a8cd2edd976ca2b46acf1607414b5753405a32016b3bf3130570e6"
