"""``/readyz``: readiness of this web process (status code) and of detection (the heartbeat),
without any internals (host, port, exception text) in the answer."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.app import create_app
from crowdquake.config import Settings
from crowdquake.services import health
from crowdquake.services.ports import FixedClock


def test_detection_status_follows_the_heartbeat(
    client: FlaskClient, session: Session, clock: FixedClock, now: datetime
) -> None:
    body = client.get("/readyz").json
    assert body["detection"] == {"status": "not running", "last_heartbeat_age_s": None}
    health.record_heartbeat(session, now - timedelta(seconds=3), "host:1")
    session.commit()
    body = client.get("/readyz").json
    assert body["detection"] == {"status": "running", "last_heartbeat_age_s": 3.0}
    # A second stamp updates the one row.
    health.record_heartbeat(session, now - timedelta(seconds=1), "host:2")
    session.commit()
    assert client.get("/readyz").json["detection"]["last_heartbeat_age_s"] == 1.0
    clock.at = now + timedelta(seconds=health.HEARTBEAT_STALE_S + 5)
    response = client.get("/readyz")
    # Detection down does not make the web process unready: ingest stays durable.
    assert response.status_code == 200
    assert response.json["detection"]["status"] == "not running"


def test_unreachable_broker_and_database_reveal_nothing(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    secret_host = "10.255.255.1"
    broken = dataclasses.replace(
        settings,
        broker_url="redis://127.0.0.1:1/0",
        database_url=f"postgresql+psycopg://someone:pw@{secret_host}:1/nothing?connect_timeout=1",
    )
    app = create_app(broken, clock=clock)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.json
    assert body["checks"] == {"database": "unavailable", "broker": "unavailable"}
    assert body["detection"]["status"] == "unknown"
    text = json.dumps(body)
    for leak in (secret_host, "127.0.0.1", ":1", "someone", "Error"):
        assert leak not in text
    app.extensions["crowdquake"].engine.dispose()
