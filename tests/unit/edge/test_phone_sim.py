"""phone-sim: payloads follow the API contract; the client reports problem+json errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from crowdquake.cli.phone_sim import (
    ApiClient,
    SimPhone,
    device_payload,
    heartbeat_payload,
    make_phones,
    trigger_payload,
    waveform_payload,
)

PHONE = SimPhone(0, 37.9, -122.3, 12.0, "android", 0.25)


def _assert_iso_with_tz(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None
    return parsed


def test_device_and_heartbeat_payloads() -> None:
    dev = device_payload(PHONE, "quake_cnn_v1")
    assert dev == {
        "platform": "android",
        "app_version": dev["app_version"],
        "model_version": "quake_cnn_v1",
    }
    assert dev["platform"] in {"android", "ios", "other"}
    hb = heartbeat_payload(PHONE, "quake_cnn_v1", steady=True)
    assert set(hb) == {
        "latitude",
        "longitude",
        "accuracy_m",
        "steady",
        "charging",
        "app_version",
        "model_version",
        "clock_offset_s",
    }
    assert isinstance(hb["steady"], bool) and isinstance(hb["charging"], bool)
    assert -90 <= hb["latitude"] <= 90 and -180 <= hb["longitude"] <= 180


def test_trigger_payload_uses_device_clock() -> None:
    tid = str(uuid.uuid4())
    true_time = datetime(2026, 11, 25, 13, 0, 0, tzinfo=UTC)
    body = trigger_payload(
        phone=PHONE,
        trigger_id=tid,
        true_time=true_time,
        score=1.3,
        pga_ms2=0.42,
        phase_hint="P",
        model_version="quake_cnn_v1",
    )
    assert set(body) == {
        "id",
        "trigger_time",
        "clock_offset_s",
        "latitude",
        "longitude",
        "accuracy_m",
        "pga_ms2",
        "score",
        "model_version",
        "phase_hint",
    }
    assert uuid.UUID(body["id"]).version == 4
    device_time = _assert_iso_with_tz(body["trigger_time"])
    # clock_offset_s = true - device, so device + offset recovers the true time.
    assert abs((device_time - true_time).total_seconds() + body["clock_offset_s"]) < 1e-3
    assert 0.0 <= body["score"] <= 1.0
    assert body["phase_hint"] in {"P", "S", None}
    assert (
        trigger_payload(
            phone=PHONE,
            trigger_id=tid,
            true_time=true_time,
            score=0.5,
            pga_ms2=None,
            phase_hint=None,
            model_version="v",
        )["pga_ms2"]
        is None
    )


def test_waveform_payload_matches_sidecar_shape() -> None:
    from crowdquake.edge import EdgeModel

    sc = EdgeModel.load().sidecar
    wave = np.random.default_rng(0).normal(0, 0.1, (3, sc.window_samples))
    body = waveform_payload(wave, sc.sample_rate_hz, datetime(2026, 1, 1, tzinfo=UTC))
    assert body["channels"] == ["x", "y", "z"] == list(sc.channel_order)
    assert body["sample_rate_hz"] == sc.sample_rate_hz
    assert [len(row) for row in body["data"]] == [sc.window_samples] * 3
    _assert_iso_with_tz(body["start_time"])


def test_phones_are_spread_within_radius() -> None:
    phones = make_phones(np.random.default_rng(0), 200, 37.9, -122.3, 10.0)
    dy = (np.array([p.latitude for p in phones]) - 37.9) * 111.195
    dx = (np.array([p.longitude for p in phones]) + 122.3) * 111.195 * np.cos(np.radians(37.9))
    assert np.hypot(dx, dy).max() <= 10.0 + 1e-6
    assert {p.platform for p in phones} <= {"android", "ios", "other"}


def test_client_reports_problem_details() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/devices":
            return httpx.Response(201, json={"device_id": "d1", "token": "t1"})
        assert request.headers["Authorization"] == "Bearer t1"
        return httpx.Response(
            422,
            json={"type": "about:blank", "title": "Unprocessable", "detail": "score > 1"},
            headers={"content-type": "application/problem+json"},
        )

    client = ApiClient("http://test")
    client.http = httpx.Client(base_url="http://test", transport=httpx.MockTransport(handler))
    assert client.send("POST", "/api/v1/devices", {})["token"] == "t1"
    assert client.send("POST", "/api/v1/triggers", {}, token="t1") is None
    assert client.errors == ["POST /api/v1/triggers -> 422 Unprocessable: score > 1"]


@pytest.mark.parametrize("bad_url", ["http://127.0.0.1:9"])
def test_client_survives_unreachable_server(bad_url: str) -> None:
    client = ApiClient(bad_url, timeout_s=0.5)
    assert client.send("POST", "/api/v1/devices", {}) is None
    assert len(client.errors) == 1


def test_payloads_validate_against_the_api_schemas() -> None:
    schemas = pytest.importorskip("crowdquake.api.schemas")
    # The API parses JSON in strict mode, so validate the JSON text, as the server sees it.
    schemas.DeviceRegistration.model_validate_json(json.dumps(device_payload(PHONE, "v1")))
    schemas.HeartbeatIn.model_validate_json(json.dumps(heartbeat_payload(PHONE, "v1", True)))
    body = trigger_payload(
        phone=PHONE,
        trigger_id=str(uuid.uuid4()),
        true_time=datetime.now(UTC),
        score=0.99,
        pga_ms2=0.3,
        phase_hint="S",
        model_version="quake_cnn_v1",
    )
    schemas.TriggerIn.model_validate_json(json.dumps(body))
