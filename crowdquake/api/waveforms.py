"""``PUT /api/v1/triggers/{id}/waveform``: the accelerometer snippet behind a trigger.

The snippet must be in the edge model's format (its sidecar: sample rate, channel order, at least
one window); a worker re-scores it with the same model (``crowdquake.edge.score_waveforms``).
"""

from __future__ import annotations

import functools
import math
import uuid
from datetime import datetime
from typing import Any

import numpy as np
from flask import Blueprint, Response
from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from crowdquake.api.request import authenticated_device, parse_body
from crowdquake.api.schemas import (
    MAX_CLOCK_OFFSET_S,
    MAX_PHONE_PGA_MS2,
    StrictModel,
    WaveformStored,
    check_acceptance_window,
)
from crowdquake.config import Settings
from crowdquake.services import waveforms
from crowdquake.web import container, get_session, transactional

bp = Blueprint("api_v1_waveforms", __name__, url_prefix="/api/v1")
MAX_WINDOWS = 15  # longest snippet, in model windows (30 s for a 2 s window)


class WaveformIn(StrictModel):
    """Context: ``{"sample_rate_hz": float, "channels": [str], "window_samples": int}`` and,
    for the time check, ``{"now": datetime, "max_future_skew_s": float, "max_age_s": float}``."""

    sample_rate_hz: float = Field(gt=0, description="Must equal the edge model's sample rate")
    start_time: AwareDatetime
    channels: list[str] = Field(description="Channel order; must equal the model's")
    data: list[list[float]] = Field(description="One list of samples per channel, m/s²")

    @field_validator("sample_rate_hz")
    @classmethod
    def _model_rate(cls, value: float, info: ValidationInfo) -> float:
        expected = (info.context or {}).get("sample_rate_hz")
        if expected is not None and not math.isclose(value, expected, rel_tol=1e-6):
            raise ValueError(f"the edge model expects {expected:g} Hz")
        return value

    @field_validator("start_time")
    @classmethod
    def _recent(cls, value: datetime, info: ValidationInfo) -> datetime:
        # The snippet's start is on the device clock and carries no offset of its own: the
        # trigger's acceptance window, widened on both sides by the largest clock offset.
        context: dict[str, Any] = info.context or {}
        now = context.get("now")
        if now is not None:
            check_acceptance_window(
                value,
                now,
                offset_s=0.0,
                max_future_skew_s=float(context["max_future_skew_s"]) + MAX_CLOCK_OFFSET_S,
                max_age_s=float(context["max_age_s"]) + MAX_CLOCK_OFFSET_S,
                what="start_time",
            )
        return value

    @field_validator("channels")
    @classmethod
    def _model_channels(cls, value: list[str], info: ValidationInfo) -> list[str]:
        expected = (info.context or {}).get("channels")
        if expected is not None and value != list(expected):
            raise ValueError(f"channels must be {list(expected)}")
        return value

    @field_validator("data")
    @classmethod
    def _shape_and_range(cls, value: list[list[float]], info: ValidationInfo) -> list[list[float]]:
        context: dict[str, Any] = info.context or {}
        n_channels = len(context.get("channels", value))
        window = int(context.get("window_samples", 1))
        lengths = {len(channel) for channel in value}
        if len(value) != n_channels or len(lengths) != 1:
            raise ValueError(f"expected {n_channels} channels of equal length")
        n = lengths.pop()
        if not window <= n <= MAX_WINDOWS * window:
            raise ValueError(f"each channel needs {window} to {MAX_WINDOWS * window} samples")
        if any(abs(x) > MAX_PHONE_PGA_MS2 for channel in value for x in channel):
            raise ValueError(f"samples must be within ±{MAX_PHONE_PGA_MS2:.1f} m/s²")
        return value


@functools.lru_cache(maxsize=4)
def _read_sidecar(path: str) -> Any:
    from crowdquake.edge import ModelSidecar

    return ModelSidecar.read(path.removesuffix(".tflite") + ".json")


def edge_sidecar(settings: Settings) -> Any:
    """The sidecar of the model the server scores with: it fixes the upload format."""
    from crowdquake.edge import DEFAULT_MODEL_DIR, DEFAULT_MODEL_NAME

    return _read_sidecar(settings.edge_model_path or str(DEFAULT_MODEL_DIR / DEFAULT_MODEL_NAME))


def _sidecar() -> Any:
    return edge_sidecar(container().settings)


def waveform_schema(settings: Settings) -> dict[str, Any]:
    """``WaveformIn``'s JSON schema with the rules of this deployment's model written in: the
    exact sample rate and channel order, the sample counts, the sample range, the time window.
    Equal channel lengths cannot be said in JSON Schema; the description says it."""
    sidecar = edge_sidecar(settings)
    channels = list(sidecar.channel_order)
    window = int(sidecar.window_samples)
    schema = WaveformIn.model_json_schema()
    props = schema["properties"]
    props["sample_rate_hz"].update(
        const=float(sidecar.sample_rate_hz),
        description=f"Must be {sidecar.sample_rate_hz:g} (the edge model's sample rate), Hz",
    )
    props["channels"].update(
        const=channels,
        minItems=len(channels),
        maxItems=len(channels),
        description=f"Channel order; must be {channels} (the edge model's)",
    )
    props["data"].update(
        minItems=len(channels),
        maxItems=len(channels),
        description=f"One list of samples per channel, m/s²; every channel the same length, "
        f"{window} to {MAX_WINDOWS * window} samples ({MAX_WINDOWS} model windows)",
    )
    props["data"]["items"].update(minItems=window, maxItems=MAX_WINDOWS * window)
    props["data"]["items"]["items"].update(minimum=-MAX_PHONE_PGA_MS2, maximum=MAX_PHONE_PGA_MS2)
    before = settings.max_trigger_age_s + MAX_CLOCK_OFFSET_S
    after = settings.max_future_skew_s + MAX_CLOCK_OFFSET_S
    props["start_time"].update(
        description=f"First sample, device clock. Must lie within [server now - {before:g} s, "
        f"server now + {after:g} s] (the trigger window widened by the largest clock offset)",
        **{"x-acceptance-window": {"max_age_s": before, "max_future_s": after}},
    )
    return schema


@bp.put("/triggers/<uuid:trigger_id>/waveform")
@transactional
def put_waveform(trigger_id: uuid.UUID) -> Response:
    device = authenticated_device()
    sidecar = _sidecar()
    services = container()
    body = parse_body(
        WaveformIn,
        {
            "sample_rate_hz": sidecar.sample_rate_hz,
            "channels": list(sidecar.channel_order),
            "window_samples": sidecar.window_samples,
            "now": services.clock.now(),
            "max_future_skew_s": services.settings.max_future_skew_s,
            "max_age_s": services.settings.max_trigger_age_s,
        },
    )
    stored = waveforms.store_waveform(
        get_session(),
        device.device_id,
        trigger_id,
        np.asarray(body.data, dtype=np.float64),
        sample_rate_hz=body.sample_rate_hz,
        start_time=body.start_time,
        now=services.clock.now(),
    )
    out = WaveformStored(trigger_id=stored.trigger_id, n_samples=stored.n_samples)
    return Response(
        out.model_dump_json(), status=201 if stored.created else 200, mimetype="application/json"
    )
