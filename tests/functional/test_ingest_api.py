"""The ingest API through the Flask test client: happy path, idempotency, every error status."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from crowdquake.services.ports import FixedClock
from tests.factories import heartbeat_body, trigger_body

PROBLEM = "application/problem+json"


def auth(headers: dict[str, str]) -> dict[str, str]:
    return {"Authorization": headers["Authorization"]}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


def test_register_heartbeat_trigger_and_replay(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    sink: Any,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    hb = client.post("/api/v1/heartbeats", json=heartbeat_body(), headers=auth(device))
    assert hb.status_code == 201
    # Only the coarsened position is stored: the H3 cell centre, not what the phone sent.
    assert hb.json["cell"]
    assert (hb.json["latitude"], hb.json["longitude"]) != (37.87123, -122.26456)
    assert abs(hb.json["latitude"] - 37.87123) < 0.05
    assert (
        client.post("/api/v1/heartbeats", json=heartbeat_body(), headers=auth(device)).status_code
        == 200
    )

    body = trigger_body(now)
    first = client.post("/api/v1/triggers", json=body, headers=auth(device))
    assert first.status_code == 201 and first.json["created"] is True
    assert first.json["id"] == body["id"]
    # The stored time is the device time corrected by the clock offset.
    stored = datetime.fromisoformat(first.json["trigger_time"])
    assert stored == datetime.fromisoformat(body["trigger_time"]) + timedelta(seconds=0.25)
    assert sink.calls and all(sink.calls)

    replay = client.post("/api/v1/triggers", json=body, headers=auth(device))
    assert replay.status_code == 200 and replay.json["created"] is False
    assert replay.json["id"] == body["id"]
    assert row_counts() == {"devices": 1, "device_state": 1, "triggers": 1}
    assert len(sink.calls) == 1, "a replay must not re-notify detection"

    fetched = client.get(f"/api/v1/triggers/{body['id']}", headers=auth(device))
    assert fetched.status_code == 200
    assert fetched.json["pga_ms2"] == 0.21 and fetched.json["status"] == "new"


def test_batch_is_all_or_nothing_with_per_item_errors(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    good = [trigger_body(now) for _ in range(3)]
    bad = trigger_body(now, latitude=123.0)
    response = client.post(
        "/api/v1/triggers:batch", json={"triggers": [*good, bad]}, headers=auth(device)
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["triggers[3].latitude"]
    assert row_counts()["triggers"] == 0

    ok = client.post("/api/v1/triggers:batch", json={"triggers": good}, headers=auth(device))
    assert ok.status_code == 201 and [t["created"] for t in ok.json["triggers"]] == [True] * 3
    again = client.post("/api/v1/triggers:batch", json={"triggers": good}, headers=auth(device))
    assert again.status_code == 200 and not any(t["created"] for t in again.json["triggers"])
    assert row_counts()["triggers"] == 3


def test_reused_id_with_other_body_is_409_and_writes_nothing(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    body = trigger_body(now)
    assert client.post("/api/v1/triggers", json=body, headers=auth(device)).status_code == 201
    changed = dict(body, pga_ms2=0.5)
    assert_problem(client.post("/api/v1/triggers", json=changed, headers=auth(device)), 409)
    # In a batch, a conflicting item rolls back the new ones too.
    fresh = trigger_body(now)
    batch = client.post(
        "/api/v1/triggers:batch", json={"triggers": [fresh, changed]}, headers=auth(device)
    )
    assert_problem(batch, 409)
    assert row_counts()["triggers"] == 1
    # Another device cannot claim (or probe) the same id either.
    other = register()
    assert_problem(client.post("/api/v1/triggers", json=body, headers=auth(other)), 409)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[]", 422),
        (json.dumps({"latitude": "37.0"}).encode(), 422),
    ],
)
def test_bad_bodies(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    raw: bytes,
    status: int,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    before = row_counts()
    response = client.post(
        "/api/v1/triggers", data=raw, headers=auth(device), content_type="application/json"
    )
    assert_problem(response, status)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"latitude": 91.0}, "latitude"),
        ({"longitude": -180.5}, "longitude"),
        ({"pga_ms2": -0.1}, "pga_ms2"),
        ({"pga_ms2": 500.0}, "pga_ms2"),
        ({"score": 1.5}, "score"),
        ({"accuracy_m": -1}, "accuracy_m"),
        ({"phase_hint": "Q"}, "phase_hint"),
        ({"id": "not-a-uuid"}, "id"),
        ({"trigger_time": "2026-11-25T12:00:00"}, "trigger_time"),  # no time zone
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_schema_violations_name_the_field(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    override: dict[str, Any],
    field: str,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    response = client.post(
        "/api/v1/triggers", json=trigger_body(now, **override), headers=auth(device)
    )
    problem = assert_problem(response, 422)
    assert field in [e["field"] for e in problem["errors"]]
    assert row_counts()["triggers"] == 0


def test_trigger_time_window(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    future = trigger_body(now, trigger_time=(now + timedelta(seconds=60)).isoformat())
    problem = assert_problem(
        client.post("/api/v1/triggers", json=future, headers=auth(device)), 422
    )
    assert problem["errors"][0]["field"] == "trigger_time"
    assert "future" in problem["errors"][0]["message"]
    old = trigger_body(now, trigger_time=(now - timedelta(hours=2)).isoformat())
    assert_problem(client.post("/api/v1/triggers", json=old, headers=auth(device)), 422)
    # The clock offset counts: a device clock 2 h slow with a measured offset is fine.
    slow = trigger_body(
        now, trigger_time=(now - timedelta(hours=2)).isoformat(), clock_offset_s=7200.0 - 1
    )
    assert client.post("/api/v1/triggers", json=slow, headers=auth(device)).status_code == 201
    assert row_counts()["triggers"] == 1


def test_auth_errors(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    row_counts: Callable[[], dict[str, int]],
    session: Any,
) -> None:
    device = register()
    body = trigger_body(now)
    assert_problem(client.post("/api/v1/triggers", json=body), 401)
    assert_problem(
        client.post("/api/v1/triggers", json=body, headers={"Authorization": "Bearer x"}), 401
    )
    forged = device["Authorization"][:-4] + "AAAA"
    assert_problem(
        client.post("/api/v1/triggers", json=body, headers={"Authorization": forged}), 401
    )
    # Another device's trigger is reported as absent.
    assert client.post("/api/v1/triggers", json=body, headers=auth(device)).status_code == 201
    other = register()
    assert_problem(client.get(f"/api/v1/triggers/{body['id']}", headers=auth(other)), 404)
    assert_problem(client.get(f"/api/v1/triggers/{uuid.uuid4()}", headers=auth(device)), 404)
    # A blocked device is authenticated but forbidden.
    from crowdquake.services.devices import set_device_status

    set_device_status(session, uuid.UUID(other["device_id"]), "blocked")
    session.commit()
    assert_problem(
        client.post("/api/v1/triggers", json=trigger_body(now), headers=auth(other)), 403
    )
    assert row_counts()["triggers"] == 1


def test_body_too_large_is_413(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    huge = {"triggers": [trigger_body(now) for _ in range(2000)]}
    assert_problem(client.post("/api/v1/triggers:batch", json=huge, headers=auth(device)), 413)
    assert row_counts()["triggers"] == 0


def test_batch_size_limit_is_422(
    client: FlaskClient, register: Callable[[], dict[str, str]], now: datetime, app: Any
) -> None:
    device = register()
    limit = app.extensions["crowdquake"].settings.max_batch_triggers
    body = {"triggers": [trigger_body(now) for _ in range(limit + 1)]}
    app.config["MAX_CONTENT_LENGTH"] = 10_000_000
    problem = assert_problem(
        client.post("/api/v1/triggers:batch", json=body, headers=auth(device)), 422
    )
    assert problem["errors"][0]["field"] == "triggers"


def test_rate_limit_is_429_with_retry_after(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    app: Any,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    device = register()
    limit = app.extensions["crowdquake"].settings.rate_limit_per_minute
    for _ in range(limit):
        assert client.post(
            "/api/v1/heartbeats", json=heartbeat_body(), headers=auth(device)
        ).status_code in (200, 201)
    before = row_counts()
    response = client.post("/api/v1/triggers", json=trigger_body(now), headers=auth(device))
    assert_problem(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert row_counts() == before


def test_ops_endpoints(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "broker": "ok"}
    assert ready.json["detection"]["status"] in ("running", "not running")
    client.get("/api/v1/triggers/not-a-uuid")
    text = client.get("/metrics").get_data(as_text=True)
    assert "crowdquake_http_requests_total" in text
    assert "crowdquake_http_request_duration_seconds_bucket" in text


def test_unknown_route_and_method_are_problems(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404)
    response = client.get("/api/v1/triggers:batch")
    assert_problem(response, 405)


def test_clock_is_injected(
    client: FlaskClient, clock: FixedClock, register: Any, now: datetime
) -> None:
    device = register()
    clock.at = now + timedelta(days=1)
    stale = trigger_body(now)
    assert_problem(client.post("/api/v1/triggers", json=stale, headers=auth(device)), 422)
