"""Schema rules that do not need a database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from crowdquake.api.problems import field_path
from crowdquake.api.schemas import TriggerBatchIn, TriggerIn

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = {"now": NOW, "max_future_skew_s": 30.0, "max_age_s": 3600.0, "max_batch": 2}


def body(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "trigger_time": NOW.isoformat(),
        "latitude": 10.0,
        "longitude": 20.0,
        "accuracy_m": 5.0,
        "pga_ms2": None,
        "score": 0.5,
        "model_version": "m1",
    }
    data.update(overrides)
    return data


def validate(data: object, context: dict[str, object] | None = CONTEXT) -> TriggerIn:
    return TriggerIn.model_validate_json(json.dumps(data), context=context)


def test_unknown_pga_is_allowed() -> None:
    assert validate(body()).pga_ms2 is None


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_non_finite_numbers_are_rejected(value: str) -> None:
    raw = json.dumps(body()).replace('"score": 0.5', f'"score": {value}')
    with pytest.raises(ValidationError):
        TriggerIn.model_validate_json(raw, context=CONTEXT)


def test_strings_are_not_coerced_to_numbers() -> None:
    with pytest.raises(ValidationError) as info:
        validate(body(latitude="10.0"))
    assert info.value.errors()[0]["loc"] == ("latitude",)


def test_clock_offset_moves_the_acceptance_window() -> None:
    device_time = NOW + timedelta(seconds=100)
    with pytest.raises(ValidationError):
        validate(body(trigger_time=device_time.isoformat()))
    ok = validate(body(trigger_time=device_time.isoformat(), clock_offset_s=-90.0))
    assert ok.trigger_time == device_time


def test_without_context_no_time_check() -> None:
    validate(body(trigger_time="2001-01-01T00:00:00Z"), context=None)


def test_batch_limit_and_item_paths() -> None:
    with pytest.raises(ValidationError) as info:
        TriggerBatchIn.model_validate_json(
            json.dumps({"triggers": [body(), body(), body()]}), context=CONTEXT
        )
    assert field_path(info.value.errors()[0]["loc"]) == "triggers"
    with pytest.raises(ValidationError) as info:
        TriggerBatchIn.model_validate_json(
            json.dumps({"triggers": [body(), body(score=2)]}), context=CONTEXT
        )
    assert field_path(info.value.errors()[0]["loc"]) == "triggers[1].score"


def test_field_path_formatting() -> None:
    assert field_path(("a", 0, "b")) == "a[0].b"
    assert field_path(()) == "body"
