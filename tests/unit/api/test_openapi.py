"""The checked-in OpenAPI document equals what the code generates, and describes every route."""

from __future__ import annotations

import json
import re

from crowdquake.api.openapi import CHECKED_IN, build_openapi
from crowdquake.app import create_app
from crowdquake.config import Settings


def test_checked_in_document_is_current() -> None:
    assert json.loads(CHECKED_IN.read_text()) == build_openapi(), "run `crowdquake openapi`"


def test_every_api_route_is_documented(tmp_path: object) -> None:
    app = create_app(Settings(instance_dir=str(tmp_path), broker_url="memory://"))
    documented = {"/api/v1" + path for path in build_openapi()["paths"]}
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1") and not rule.rule.endswith("openapi.json")
    }
    assert routes <= documented
    app.extensions["crowdquake"].engine.dispose()


def test_the_document_states_the_deployments_limits(tmp_path: object) -> None:
    settings = Settings(
        instance_dir=str(tmp_path),
        max_batch_triggers=7,
        max_trigger_age_s=120.0,
        max_future_skew_s=5.0,
        max_request_bytes=1000,
    )
    doc = build_openapi(settings)
    defs = doc["components"]["schemas"]
    assert defs["TriggerBatchIn"]["properties"]["triggers"]["maxItems"] == 7
    window = defs["TriggerIn"]["properties"]["trigger_time"]["x-acceptance-window"]
    assert window == {
        "corrected": "trigger_time + clock_offset_s",
        "max_age_s": 120.0,
        "max_future_s": 5.0,
    }
    assert "at most 1000 bytes" in doc["info"]["description"]
    waveform = doc["paths"]["/triggers/{trigger_id}/waveform"]["put"]["requestBody"]
    props = waveform["content"]["application/json"]["schema"]["properties"]
    assert props["sample_rate_hz"]["const"] == 50.0
    assert props["channels"]["const"] == ["x", "y", "z"]
    assert props["data"]["items"]["minItems"] == 100
    assert props["data"]["items"]["maxItems"] == 1500


def test_every_response_documents_the_security_headers_and_size_errors() -> None:
    doc = build_openapi()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"414", "431"} <= set(responses), (path, method)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(responses), (path, method)
            for status, response in responses.items():
                if response["description"].startswith("(from the stream server)"):
                    continue  # the SSE process, not the WSGI app
                assert "X-Content-Type-Options" in response["headers"], (path, method, status)
                if status == "429":
                    assert "Retry-After" in response["headers"]


def test_served_document_uses_the_apps_settings(tmp_path: object) -> None:
    app = create_app(
        Settings(instance_dir=str(tmp_path), broker_url="memory://", max_batch_triggers=3)
    )
    doc = app.test_client().get("/api/v1/openapi.json").json
    assert doc["components"]["schemas"]["TriggerBatchIn"]["properties"]["triggers"]["maxItems"] == 3
    app.extensions["crowdquake"].engine.dispose()
