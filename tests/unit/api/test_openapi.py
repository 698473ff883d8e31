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
