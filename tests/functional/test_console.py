"""The console over the Flask test client: login, CSRF, roles, cookie flags, rate limits,
escaping, and actions reflected at once in the public API and the alerts."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.app import create_app
from crowdquake.config import Settings
from crowdquake.services.alerts import get_issued_alert
from crowdquake.services.devices import register_device
from crowdquake.services.errors import NotFound
from crowdquake.services.operators import create_operator
from crowdquake.services.ports import FixedClock
from crowdquake.storage.models import Alert, AuditLog, Device, Event, EventTrigger, Trigger
from tests.unit.services.test_review import REGION, make_event

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console_app(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[Flask]:
    settings = dataclasses.replace(settings, console_login_rate_limit_per_minute=6)
    app = create_app(settings, clock=clock, session_factory=session_factory)
    # https: the session cookie is Secure, as in production.
    app.config["PREFERRED_URL_SCHEME"] = "https"
    yield app
    app.extensions["crowdquake"].engine.dispose()


@pytest.fixture
def web(console_app: Flask) -> FlaskClient:
    return console_app.test_client()


@pytest.fixture
def operators(session: Session, now: datetime) -> dict[str, str]:
    for name, role in (("vic", "viewer"), ("olga", "operator"), ("ada", "admin")):
        create_operator(session, username=name, password=PASSWORD, role=role, now=now, actor="t")
    session.commit()
    return {"viewer": "vic", "operator": "olga", "admin": "ada"}


def token(web: FlaskClient, path: str = "/console/login") -> str:
    match = CSRF.search(web.get(path).text)
    assert match, path
    return match.group(1)


def login(web: FlaskClient, username: str, password: str = PASSWORD) -> object:
    return web.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token(web)},
    )


@pytest.fixture
def event(session: Session, now: datetime) -> Event:
    held = make_event(session, now, status="held")
    session.commit()
    return held


def post_rules(app: Flask) -> list[str]:
    return sorted(
        r.rule
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("console.") and "POST" in (r.methods or ())
    )


def concrete(rule: str, event_id: str, device_id: str) -> list[str]:
    """Every URL a POST rule stands for, with real ids."""
    url = rule.replace("<public_id>", event_id).replace("<device_id>", device_id)
    url = url.replace("<int:delivery_id>", "1")
    options = re.search(r"<any\(([^)]*)\):verb>", url)
    if options is None:
        return [url]
    return [
        url[: options.start()] + v.strip() + url[options.end() :]
        for v in options.group(1).split(",")
    ]


def audit_count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(AuditLog)) or 0)


def test_no_page_without_login(console_app: Flask, web: FlaskClient) -> None:
    gets = [
        r.rule.replace("<public_id>", "cq2026x")
        for r in console_app.url_map.iter_rules()
        if r.endpoint.startswith("console.")
        and r.endpoint not in ("console.static", "console.login")
        and "GET" in (r.methods or ())
    ]
    assert len(gets) >= 9
    for path in gets:
        response = web.get(path)
        if path.startswith("/console/api/"):
            assert response.status_code == 401, path
            assert response.json["status"] == 401  # type: ignore[index]
        else:
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/console/login"), path
    assert web.get("/").headers["Location"] == "/console/"


def test_cookie_flags_and_logout(web: FlaskClient, operators: dict[str, str]) -> None:
    response = login(web, "ada")
    assert response.status_code == 302  # type: ignore[attr-defined]
    cookie = response.headers["Set-Cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("crowdquake_console=")
    for flag in ("HttpOnly", "Secure", "SameSite=Lax"):
        assert flag in cookie
    page = web.get("/console/")
    assert page.status_code == 200 and "ada" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert (
        web.post("/console/logout", data={"csrf_token": token(web, "/console/")}).status_code == 302
    )
    assert web.get("/console/").status_code == 302


def test_csrf_token_required_on_every_form(
    console_app: Flask,
    web: FlaskClient,
    operators: dict[str, str],
    event: Event,
    session: Session,
) -> None:
    # Login itself needs the token (login CSRF).
    bare = web.post("/console/login", data={"username": "ada", "password": PASSWORD})
    assert bare.status_code == 400
    login(web, "ada")
    before = audit_count(session)
    urls = [
        u
        for rule in post_rules(console_app)
        for u in concrete(rule, event.public_id, str(uuid.uuid4()))
    ]
    assert len(urls) >= 11
    for url in urls:
        for data in ({}, {"csrf_token": "forged"}):
            response = web.post(url, data={**data, "note": "x", "region": REGION, "alerts": "off"})
            assert response.status_code == 400, url
            assert "CSRF" in response.text
    assert audit_count(session) == before
    session.refresh(event)
    assert event.status == "held"


def test_viewer_gets_403_on_every_action(
    console_app: Flask,
    web: FlaskClient,
    operators: dict[str, str],
    event: Event,
    session: Session,
) -> None:
    login(web, "vic")
    csrf = token(web, f"/console/events/{event.public_id}")
    page = web.get(f"/console/events/{event.public_id}").text
    assert "viewer role" in page and "Release" not in page
    before = audit_count(session)
    actions = [
        u
        for rule in post_rules(console_app)
        if rule not in ("/console/login", "/console/logout")
        for u in concrete(rule, event.public_id, str(uuid.uuid4()))
    ]
    for url in actions:
        response = web.post(
            url,
            data={"csrf_token": csrf, "note": "x", "region": REGION, "alerts": "off", "into": "cq"},
        )
        assert response.status_code == 403, url
    assert audit_count(session) == before
    # An operator may act on events but not on regions, devices or deliveries.
    web.post("/console/logout", data={"csrf_token": csrf})
    login(web, "olga")
    csrf = token(web, "/console/")
    admin_only = [u for u in actions if not u.startswith("/console/events/")]
    assert admin_only
    for url in admin_only:
        assert (
            web.post(url, data={"csrf_token": csrf, "region": REGION, "alerts": "off"}).status_code
            == 403
        )


def test_login_rate_limited_and_lockout(
    web: FlaskClient, operators: dict[str, str], session: Session
) -> None:
    statuses = [login(web, "ada", "wrong password").status_code for _ in range(7)]  # type: ignore[attr-defined]
    assert statuses[:5] == [401] * 5  # 5 failures lock the account
    assert statuses[6] == 429
    limited = login(web, "ada")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]
    failed = session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "login.failed")
    )
    assert failed == 6  # the 429s never reached the password check


def test_lockout_refuses_the_right_password(console_app: Flask, operators: dict[str, str]) -> None:
    web = console_app.test_client()
    for _ in range(5):
        assert login(web, "olga", "wrong password").status_code == 401  # type: ignore[attr-defined]
    locked = login(web, "olga")
    assert locked.status_code == 401 and "locked" in locked.text  # type: ignore[attr-defined]


def test_device_supplied_strings_are_escaped(
    web: FlaskClient, operators: dict[str, str], session: Session, now: datetime, event: Event
) -> None:
    evil = '<img src=x onerror="alert(1)">'
    device = register_device(
        session, platform="other", app_version=evil[:32], model_version="m", now=now
    )
    session.get(Device, device.device_id).reputation = 0.05  # type: ignore[union-attr]
    trigger = Trigger(
        id=uuid.uuid4(),
        device_id=device.device_id,
        trigger_time=now,
        received_at=now,
        clock_offset_s=0.0,
        lat_deg=38.2,
        lon_deg=-122.3,
        accuracy_m=10,
        cell="87283082bffffff",
        region_key=REGION,
        pga_ms2=0.3,
        score=0.9,
        model_version="<script>x</script>",
        body_digest="0" * 64,
        event_id=event.id,
        status="associated",
    )
    session.add(trigger)
    session.flush()
    session.add(EventTrigger(event_id=event.id, trigger_id=trigger.id, phase="P", residual_s=0.1))
    session.commit()
    login(web, "ada")
    network = web.get("/console/network").text
    assert "low trust 0.05" in network
    assert evil[:32] not in network and "&lt;img src=x" in network
    page = web.get(f"/console/events/{event.public_id}").text
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_actions_reach_the_public_api_and_alerts_at_once(
    web: FlaskClient, operators: dict[str, str], event: Event, session: Session
) -> None:
    def listed() -> dict[str, str]:
        body = web.get("/api/v1/events?since=2000-01-01T00:00:00Z").json
        assert body is not None
        return {e.get("public_id", e.get("id")): e["status"] for e in body["events"]}

    assert listed()[event.public_id] == "held"
    login(web, "olga")
    csrf = token(web, f"/console/events/{event.public_id}")
    released = web.post(
        f"/console/events/{event.public_id}/release", data={"csrf_token": csrf, "note": "real"}
    )
    assert released.status_code == 302
    assert listed()[event.public_id] == "confirmed"
    session.expire_all()
    alert = get_issued_alert(session, int(session.scalar(select(func.min(Alert.id))) or 0))
    assert alert.event_public_id == event.public_id
    web.post(
        f"/console/events/{event.public_id}/reject", data={"csrf_token": csrf, "note": "blast"}
    )
    assert event.public_id not in listed()
    with pytest.raises(NotFound):
        get_issued_alert(session, alert.alert_id)
    audit = web.get("/console/audit").text
    assert "event.release" in audit and "event.reject" in audit and "olga" in audit
    # A bad filter is a 422 problem, not a 500.
    bad = web.get("/console/api/events?hours=-1&status=nope")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"hours", "status"}  # type: ignore[index]


def test_admin_switches_region_alerts_and_blocks_devices(
    web: FlaskClient, operators: dict[str, str], session: Session, now: datetime
) -> None:
    device = register_device(session, platform="ios", app_version="1", model_version="m", now=now)
    session.commit()
    login(web, "ada")
    csrf = token(web, "/console/operations")
    off = web.post(
        "/console/regions/alerts",
        data={"csrf_token": csrf, "region": REGION, "alerts": "off", "reason": "drill"},
    )
    assert off.status_code == 302
    page = web.get("/console/operations").text
    assert REGION in page and "drill" in page
    bad = web.post(
        "/console/regions/alerts", data={"csrf_token": csrf, "region": "nope", "alerts": "off"}
    )
    assert bad.status_code == 422
    blocked = web.post(f"/console/devices/{device.device_id}/block", data={"csrf_token": csrf})
    assert blocked.status_code == 302
    session.expire_all()
    assert session.get(Device, device.device_id).status == "blocked"  # type: ignore[union-attr]
    assert "device.block" in web.get("/console/audit").text
