"""Waveform upload: model-format validation, ownership, storage, and scoring by the same model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdquake.edge import EdgeModel, score_waveform
from crowdquake.services.waveforms import score_pending
from crowdquake.storage.models import Trigger, Waveform


@pytest.fixture(scope="module")
def model() -> EdgeModel:
    return EdgeModel.load()


def _trigger(client: FlaskClient, headers: dict[str, str], now: datetime) -> str:
    body = {
        "id": str(uuid.uuid4()),
        "trigger_time": (now - timedelta(seconds=1)).isoformat(),
        "latitude": 37.8,
        "longitude": -122.3,
        "accuracy_m": 5.0,
        "pga_ms2": 0.3,
        "score": 0.95,
        "model_version": "m",
    }
    assert client.post("/api/v1/triggers", json=body, headers=headers).status_code == 201
    return str(body["id"])


def _snippet(model: EdgeModel, n: int, amplitude: float = 0.3) -> dict[str, Any]:
    rate = model.sidecar.sample_rate_hz
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    shake = amplitude * np.sin(2 * np.pi * 3.0 * t) * np.exp(-((t - t[-1] / 2) ** 2))
    data = np.vstack([shake + 0.01 * rng.normal(size=n), 0.7 * shake, 9.81 + 0.2 * shake])
    return {
        "sample_rate_hz": rate,
        "start_time": "2026-11-25T11:59:58+00:00",
        "channels": list(model.sidecar.channel_order),
        "data": data.tolist(),
    }


def _waveform_rows(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(Waveform)) or 0)


def test_upload_is_validated_stored_and_scored(
    client: FlaskClient,
    register: Callable[[], dict[str, str]],
    now: datetime,
    session: Session,
    model: EdgeModel,
) -> None:
    device = register()
    headers = {"Authorization": device["Authorization"]}
    trigger_id = _trigger(client, headers, now)
    url = f"/api/v1/triggers/{trigger_id}/waveform"
    window = model.sidecar.window_samples
    good = _snippet(model, 3 * window)

    bad_cases = {
        "sample_rate_hz": dict(good, sample_rate_hz=good["sample_rate_hz"] * 2),
        "channels": dict(good, channels=["z", "y", "x"]),
        "data": dict(good, data=[row[: window // 2] for row in good["data"]]),
    }
    for field, body in bad_cases.items():
        response = client.put(url, json=body, headers=headers)
        assert response.status_code == 422, field
        assert field in [e["field"] for e in response.json["errors"]]
    ragged = dict(good, data=[good["data"][0], good["data"][1][:-1], good["data"][2]])
    assert client.put(url, json=ragged, headers=headers).status_code == 422
    assert _waveform_rows(session) == 0

    other = register()
    assert (
        client.put(url, json=good, headers={"Authorization": other["Authorization"]}).status_code
        == 404
    )
    assert client.put(url, json=good).status_code == 401
    assert _waveform_rows(session) == 0

    assert client.put(url, json=good, headers=headers).status_code == 201
    assert client.put(url, json=good, headers=headers).status_code == 200
    assert _waveform_rows(session) == 1

    scored = score_pending(session, lambda d, r: score_waveform(model, d, r), now)
    assert scored == 1
    trigger = session.get(Trigger, uuid.UUID(trigger_id))
    assert trigger is not None and trigger.server_score is not None
    expected = score_waveform(
        model, np.asarray(good["data"], dtype=np.float32).astype(float), good["sample_rate_hz"]
    )
    assert trigger.server_score == pytest.approx(expected, abs=1e-6)
    assert score_pending(session, lambda d, r: 1.0, now) == 0, "scored rows are not rescored"
