"""Flask test client wired to the per-test rolled-back connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.app import create_app
from crowdquake.config import Settings
from crowdquake.services.ports import FixedClock
from crowdquake.storage import models


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    def triggers_committed(self, region_keys: Any) -> None:
        self.calls.append(set(region_keys))


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    return FixedClock(now)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def app(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    sink: RecordingSink,
) -> Iterator[Flask]:
    app = create_app(settings, clock=clock, trigger_sink=sink, session_factory=session_factory)
    yield app
    app.extensions["crowdquake"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def row_counts(session: Session) -> Callable[[], dict[str, int]]:
    tables = {
        "devices": models.Device,
        "device_state": models.DeviceState,
        "triggers": models.Trigger,
    }

    def count() -> dict[str, int]:
        session.expire_all()
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }

    return count


@pytest.fixture
def register(client: FlaskClient) -> Callable[[], dict[str, str]]:
    def _register() -> dict[str, str]:
        response = client.post(
            "/api/v1/devices",
            json={"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"},
        )
        assert response.status_code == 201, response.json
        body = response.json
        assert body is not None
        return {"Authorization": f"Bearer {body['token']}", "device_id": body["device_id"]}

    return _register
