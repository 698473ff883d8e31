"""Personal data: export and erasure of one's own device, the retention purge, clean logs."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdquake.services import privacy
from crowdquake.storage.models import (
    Device,
    DeviceState,
    EventRevision,
    EventTrigger,
    Trigger,
    Waveform,
)
from tests.factories import add_quake, heartbeat_body, quake_now, trigger_body


def _count(session: Session, model: Any, **where: Any) -> int:
    session.expire_all()
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return int(session.scalar(stmt) or 0)


def _device_with_data(
    client: FlaskClient, register: Callable[[], dict[str, str]], now: datetime, session: Session
) -> tuple[dict[str, str], uuid.UUID, list[str], bytes]:
    device = register()
    headers = {"Authorization": device["Authorization"]}
    assert client.post("/api/v1/heartbeats", json=heartbeat_body(), headers=headers).status_code
    ids = []
    for lat in (37.871, 37.872):
        body = trigger_body(now, latitude=lat)
        assert client.post("/api/v1/triggers", json=body, headers=headers).status_code == 201
        ids.append(body["id"])
    data = bytes(range(48))
    session.add(
        Waveform(
            trigger_id=uuid.UUID(ids[0]),
            sample_rate_hz=50.0,
            start_time=now - timedelta(seconds=3),
            n_channels=3,
            n_samples=4,
            data=data,
            received_at=now,
        )
    )
    session.commit()
    return headers, uuid.UUID(device["device_id"]), ids, data


def _event_linking(session: Session, trigger_id: str, now: datetime) -> uuid.UUID:
    event = add_quake(
        session, quake_now(now, ago_s=10.0, lat_deg=37.8, lon_deg=-122.3, magnitude=4.5)
    )
    session.add(
        EventTrigger(event_id=event.id, trigger_id=uuid.UUID(trigger_id), phase="P", residual_s=0.1)
    )
    session.commit()
    return event.id


def test_export_holds_everything_about_the_device_and_nothing_else(
    client: FlaskClient, register: Any, now: datetime, session: Session
) -> None:
    headers, device_id, ids, data = _device_with_data(client, register, now, session)
    _device_with_data(client, register, now, session)  # another phone
    response = client.get("/api/v1/devices/me/export", headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    doc = response.json
    assert doc["device"]["device_id"] == str(device_id)
    assert doc["last_heartbeat"]["cell"]
    assert [t["id"] for t in doc["triggers"]] == ids
    assert [t["latitude"] for t in doc["triggers"]] == [37.871, 37.872]
    (waveform,) = doc["waveforms"]
    assert waveform["trigger_id"] == ids[0]
    assert base64.b64decode(waveform["data_base64"]) == data
    assert client.get("/api/v1/devices/me/export").status_code == 401


def test_delete_erases_the_device_and_keeps_event_aggregates(
    client: FlaskClient, register: Any, now: datetime, session: Session
) -> None:
    headers, device_id, ids, _ = _device_with_data(client, register, now, session)
    _, other_id, other_ids, _ = _device_with_data(client, register, now, session)
    event_id = _event_linking(session, ids[0], now)
    assert client.delete("/api/v1/devices/me").status_code == 401
    response = client.delete("/api/v1/devices/me", headers=headers)
    assert response.status_code == 204
    assert _count(session, Device, id=device_id) == 0
    assert _count(session, DeviceState, device_id=device_id) == 0
    assert _count(session, Trigger, device_id=device_id) == 0
    assert _count(session, Waveform, trigger_id=uuid.UUID(ids[0])) == 0
    assert _count(session, EventTrigger, event_id=event_id) == 0
    assert _count(session, EventRevision, event_id=event_id) == 1  # the aggregate stays
    # The other phone is untouched; the erased token no longer works.
    assert _count(session, Trigger, device_id=other_id) == len(other_ids)
    assert _count(session, Waveform, trigger_id=uuid.UUID(other_ids[0])) == 1
    assert client.get("/api/v1/devices/me/export", headers=headers).status_code == 401
    assert (
        client.post("/api/v1/triggers", json=trigger_body(now), headers=headers).status_code == 401
    )


def test_retention_purge_removes_old_triggers_and_waveforms_only(
    client: FlaskClient, register: Any, now: datetime, session: Session
) -> None:
    _, device_id, ids, _ = _device_with_data(client, register, now, session)
    event_id = _event_linking(session, ids[0], now)
    assert privacy.purge_expired(session, now + timedelta(days=29), 30) == 0
    assert privacy.purge_expired(session, now + timedelta(days=365), 0) == 0  # 0: keep forever
    session.commit()
    assert _count(session, Trigger, device_id=device_id) == 2
    removed = privacy.purge_expired(session, now + timedelta(days=31), 30)
    session.commit()
    assert removed >= 2
    assert _count(session, Trigger, device_id=device_id) == 0
    assert _count(session, Waveform, trigger_id=uuid.UUID(ids[0])) == 0
    assert _count(session, EventRevision, event_id=event_id) == 1
    assert _count(session, Device, id=device_id) == 1  # the registration is not a trigger


def test_logs_carry_no_token_position_or_address(
    client: FlaskClient,
    register: Any,
    now: datetime,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers, _, _, _ = _device_with_data(client, register, now, session)
    client.post("/api/v1/triggers", json=trigger_body(now, latitude=95.0), headers=headers)
    client.get("/api/v1/devices/me/export", headers=headers)
    client.get("/readyz")
    text = "\n".join(r.getMessage() for r in caplog.records)
    token = headers["Authorization"].split()[1]
    for secret in (token, token.split(".")[1], "37.871", "37.872", "127.0.0.1"):
        assert secret not in text
