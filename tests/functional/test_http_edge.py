"""What every response carries (security headers) and whose address a per-IP limit counts
(trusted proxies), through the Flask test client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.app import create_app
from crowdquake.config import Settings
from crowdquake.services.ports import FixedClock

REGISTRATION = {"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"}
PROXY = "10.0.0.5"


def assert_security_headers(response: Any, html: bool = False) -> None:
    headers = response.headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert ("default-src 'self'" if html else "default-src 'none'") in csp
    assert "Server" not in headers


RESPONSES = [
    ("GET", "/healthz", 200),
    ("GET", "/api/v1/openapi.json", 200),
    ("GET", "/api/v1/events", 200),
    ("GET", "/metrics", 200),
    ("GET", "/api/v1/alerts", 401),
    ("POST", "/api/v1/triggers", 401),
    ("GET", "/api/v1/nothing", 404),
    ("DELETE", "/api/v1/triggers:batch", 405),
]


def test_every_response_carries_the_security_headers(client: FlaskClient) -> None:
    for method, path, status in RESPONSES:
        response = client.open(path, method=method)
        assert response.status_code == status, path
        assert_security_headers(response)


def test_a_view_may_set_its_own_policy(app: Flask) -> None:
    @app.get("/html-page")
    def _page() -> Any:
        return app.response_class("<p>hi</p>", mimetype="text/html")

    @app.get("/own-policy")
    def _own() -> Any:
        response = app.response_class("{}", mimetype="application/json")
        response.headers["Content-Security-Policy"] = "sandbox"
        return response

    client = app.test_client()
    assert_security_headers(client.get("/html-page"), html=True)
    assert client.get("/own-policy").headers["Content-Security-Policy"] == "sandbox"


@pytest.fixture
def app_factory(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[Callable[..., FlaskClient]]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> FlaskClient:
        app = create_app(
            dataclasses.replace(settings, **overrides),
            clock=clock,
            session_factory=session_factory,
        )
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["crowdquake"].engine.dispose()


def register(client: FlaskClient, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = client.post(
        "/api/v1/devices",
        json=REGISTRATION,
        headers=headers,
        environ_base={"REMOTE_ADDR": PROXY},
    )
    return response.status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    app_factory: Callable[..., FlaskClient],
) -> None:
    client = app_factory(trusted_proxy_hops=1, registration_rate_limit_per_minute=2)
    assert [register(client, "203.0.113.7") for _ in range(3)] == [201, 201, 429]
    # Another client behind the same proxy is not affected by the first one's limit.
    assert register(client, "198.51.100.9") == 201
    # A client cannot escape its limit by prepending an address of its choice: the proxy appends
    # the real peer, and only that right-most entry is trusted.
    assert register(client, "192.0.2.1, 203.0.113.7") == 429


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(
    app_factory: Callable[..., FlaskClient],
) -> None:
    client = app_factory(trusted_proxy_hops=0, registration_rate_limit_per_minute=2)
    # Every client counts as the proxy's address, whatever X-Forwarded-For claims.
    assert [register(client, f"203.0.113.{i}") for i in range(3)] == [201, 201, 429]


def test_two_trusted_hops_use_the_address_the_outer_proxy_saw(
    app_factory: Callable[..., FlaskClient],
) -> None:
    client = app_factory(trusted_proxy_hops=2, registration_rate_limit_per_minute=1)
    # client -> CDN (appends client) -> nginx (appends CDN) -> us
    assert register(client, "spoofed, 203.0.113.7, 172.16.0.1") == 201
    assert register(client, "other-spoof, 203.0.113.7, 172.16.0.1") == 429
    assert register(client, "203.0.113.8, 172.16.0.1") == 201


def test_forwarded_proto_is_trusted_only_from_a_trusted_proxy(
    app_factory: Callable[..., FlaskClient],
) -> None:
    for hops, expected in ((1, "https"), (0, "http")):
        client = app_factory(trusted_proxy_hops=hops)
        client.application.add_url_rule("/scheme", "scheme", lambda: request.scheme)
        response = client.get(
            "/scheme", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"}
        )
        assert response.get_data(as_text=True) == expected


def test_negative_hops_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXY_HOPS"):
        Settings(trusted_proxy_hops=-1)
