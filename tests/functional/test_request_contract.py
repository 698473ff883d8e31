"""The request rules every JSON endpoint shares: Content-Type (415), times outside any window or
outside the representable range (422, never a 500), and a rejected request writes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdquake.storage.models import Waveform

PROBLEM = "application/problem+json"
LATEST = "9999-12-31T23:59:59Z"
EARLIEST = "0001-01-01T00:00:00Z"


def trigger(now: datetime, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "trigger_time": (now - timedelta(seconds=2)).isoformat(),
        "latitude": 37.87,
        "longitude": -122.26,
        "accuracy_m": 15.0,
        "score": 0.93,
        "model_version": "cq-edge-1",
    }
    body.update(overrides)
    return body


HEARTBEAT = {
    "latitude": 37.87,
    "longitude": -122.26,
    "accuracy_m": 12.0,
    "steady": True,
    "charging": False,
    "app_version": "1.0.0",
    "model_version": "cq-edge-1",
}
REGISTRATION = {"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"}


def waveform(start_time: str) -> dict[str, Any]:
    n = 200  # four 50-sample windows of the shipped model at 50 Hz
    return {
        "sample_rate_hz": 50.0,
        "start_time": start_time,
        "channels": ["x", "y", "z"],
        "data": [[0.01] * n, [0.02] * n, [9.81] * n],
    }


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


def waveform_rows(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(Waveform)) or 0)


@pytest.fixture
def device(register: Callable[[], dict[str, str]]) -> dict[str, str]:
    return {"Authorization": register()["Authorization"]}


@pytest.fixture
def stored_trigger(client: FlaskClient, device: dict[str, str], now: datetime) -> str:
    body = trigger(now)
    assert client.post("/api/v1/triggers", json=body, headers=device).status_code == 201
    return str(body["id"])


# --- Times out of range: 422 with the field, never an OverflowError 500 ---------------------------


@pytest.mark.parametrize(
    ("trigger_time", "offset"),
    [
        (LATEST, 1.0),  # device time + offset is past year 9999
        (EARLIEST, -1.0),  # ... before year 1
        (LATEST, 86_400.0),
        (EARLIEST, 0.0),
        ("9999-12-31T23:59:59-01:00", 0.0),  # a valid local time whose UTC is year 10000
        ("0001-01-01T00:00:00+01:00", 0.0),  # ... and year 0
    ],
)
def test_extreme_trigger_times_are_422_on_single_and_batch(
    client: FlaskClient,
    device: dict[str, str],
    now: datetime,
    trigger_time: str,
    offset: float,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    before = row_counts()
    body = trigger(now, trigger_time=trigger_time, clock_offset_s=offset)
    single = problem_of(client.post("/api/v1/triggers", json=body, headers=device), 422)
    assert [e["field"] for e in single["errors"]] == ["trigger_time"]
    batch_body = {"triggers": [trigger(now), body]}
    batch = problem_of(client.post("/api/v1/triggers:batch", json=batch_body, headers=device), 422)
    assert [e["field"] for e in batch["errors"]] == ["triggers[1].trigger_time"]
    assert row_counts() == before


def test_acceptance_window_edges(
    client: FlaskClient, device: dict[str, str], now: datetime
) -> None:
    """The window is [now - max_trigger_age_s, now + max_future_skew_s] on the corrected time
    (defaults 3600 s and 30 s), inclusive; the clock offset moves a device time into it."""
    cases = [
        (now + timedelta(seconds=30), 0.0, 201),
        (now + timedelta(seconds=30.001), 0.0, 422),
        (now - timedelta(seconds=3600), 0.0, 201),
        (now - timedelta(seconds=3600.001), 0.0, 422),
        (now + timedelta(seconds=100), -80.0, 201),
        (now - timedelta(seconds=3700), -1.0, 422),
    ]
    for device_time, offset, status in cases:
        body = trigger(now, trigger_time=device_time.isoformat(), clock_offset_s=offset)
        response = client.post("/api/v1/triggers", json=body, headers=device)
        assert response.status_code == status, (device_time, offset, response.json)


@pytest.mark.parametrize(
    "start_time", [LATEST, EARLIEST, "9999-12-31T23:59:59-01:00", "2026-11-22T00:00:00Z"]
)
def test_waveform_start_time_out_of_range_is_422(
    client: FlaskClient,
    device: dict[str, str],
    stored_trigger: str,
    start_time: str,
    session: Session,
) -> None:
    url = f"/api/v1/triggers/{stored_trigger}/waveform"
    response = client.put(url, json=waveform(start_time), headers=device)
    assert [e["field"] for e in problem_of(response, 422)["errors"]] == ["start_time"]
    assert waveform_rows(session) == 0


def test_waveform_start_time_within_a_clock_offset_is_accepted(
    client: FlaskClient, device: dict[str, str], stored_trigger: str, now: datetime
) -> None:
    """A device clock up to a day off (the largest clock offset) still uploads its snippet."""
    url = f"/api/v1/triggers/{stored_trigger}/waveform"
    start = (now - timedelta(hours=23)).isoformat()
    assert client.put(url, json=waveform(start), headers=device).status_code == 201


@pytest.mark.parametrize("since", [LATEST.replace("Z", "-01:00"), "0001-01-01T00:00:00+01:00"])
def test_event_query_time_out_of_range_is_422(client: FlaskClient, since: str) -> None:
    problem = problem_of(client.get("/api/v1/events", query_string={"since": since}), 422)
    assert [e["field"] for e in problem["errors"]] == ["since"]


def test_event_query_extreme_but_valid_times(client: FlaskClient) -> None:
    for since in (LATEST, EARLIEST):
        response = client.get("/api/v1/events", query_string={"since": since})
        assert response.status_code == 200, response.json


# --- Content-Type: JSON endpoints take application/json only (415) --------------------------------

NOT_JSON = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/xml",
    "multipart/form-data; boundary=x",
    None,
]


def _send(
    client: FlaskClient,
    method: str,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    content_type: str | None,
) -> Any:
    """Send a JSON document under ``content_type`` (None: no Content-Type header at all)."""
    raw = json.dumps(body).encode()
    response = client.open(url, method=method, data=raw, headers=headers, content_type=content_type)
    return response


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_every_json_endpoint_refuses_other_content_types(
    client: FlaskClient,
    device: dict[str, str],
    stored_trigger: str,
    now: datetime,
    content_type: str | None,
    row_counts: Callable[[], dict[str, int]],
    session: Session,
) -> None:
    requests = [
        ("POST", "/api/v1/devices", REGISTRATION, {}),
        ("POST", "/api/v1/heartbeats", HEARTBEAT, device),
        ("POST", "/api/v1/triggers", trigger(now), device),
        ("POST", "/api/v1/triggers:batch", {"triggers": [trigger(now)]}, device),
        (
            "PUT",
            f"/api/v1/triggers/{stored_trigger}/waveform",
            waveform(now.isoformat()),
            device,
        ),
    ]
    before = row_counts()
    for method, url, body, headers in requests:
        response = _send(client, method, url, body, headers, content_type)
        assert response.request.headers.get("Content-Type") == content_type
        problem = problem_of(response, 415)
        assert "application/json" in problem["detail"]
        assert response.headers["Accept"] == "application/json"
    assert row_counts() == before
    assert waveform_rows(session) == 0


def test_json_with_parameters_is_accepted(
    client: FlaskClient, device: dict[str, str], now: datetime
) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        response = _send(client, "POST", "/api/v1/triggers", trigger(now), device, content_type)
        assert response.status_code == 201, response.json


def test_a_device_erased_by_another_process_gets_401_not_500(
    settings: Any,
    session_factory: Any,
    clock: Any,
    session: Session,
    now: datetime,
) -> None:
    """Another web process answered DELETE /devices/me; this one still has the token in its
    auth cache (auth_cache_ttl_s). The write hits the foreign key: 401, nothing stored."""
    import dataclasses

    from sqlalchemy import delete

    from crowdquake.app import create_app
    from crowdquake.storage.models import Device, DeviceState, Trigger

    app = create_app(
        dataclasses.replace(settings, auth_cache_ttl_s=60.0),
        clock=clock,
        session_factory=session_factory,
    )
    client = app.test_client()
    token = client.post("/api/v1/devices", json=REGISTRATION).json["token"]
    device = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/heartbeats", json=HEARTBEAT, headers=device).status_code == 201
    session.execute(delete(DeviceState))
    session.execute(delete(Device))
    session.flush()
    for url, body in (
        ("/api/v1/triggers", trigger(now)),
        ("/api/v1/triggers:batch", {"triggers": [trigger(now)]}),
        ("/api/v1/heartbeats", HEARTBEAT),
    ):
        response = client.post(url, json=body, headers=device)
        assert problem_of(response, 401)["detail"] == "this device is no longer registered", url
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Trigger)) == 0
    app.extensions["crowdquake"].engine.dispose()
