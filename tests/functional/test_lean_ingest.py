"""The lean ingest path (api/lean_ingest.py) and its reference twin, the Flask views, answer alike.

Each scenario runs twice on one database, once per path, from the same state (the triggers of the
first run are deleted before the second): the responses (status, headers, body bytes), the stored
trigger rows, the hand-offs to detection, the request counters and the access log lines must be
the same, for good requests and bad ones.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.app import create_app
from crowdquake.config import Settings
from crowdquake.services.ports import FixedClock
from crowdquake.storage import migrate
from crowdquake.storage.admin import recreate_postgres_database
from crowdquake.storage.models import Trigger
from tests.factories import trigger_body as trigger
from tests.functional.conftest import RecordingSink

PG_URL = os.environ.get("CROWDQUAKE_TEST_DATABASE_URL", "")
Request = dict[str, Any]  # keyword arguments of FlaskClient.open
Scenario = Callable[[datetime, str], list[Request]]


def post(path: str, token: str | None, body: Any = None, **kwargs: Any) -> Request:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    if body is not None and "data" not in kwargs:
        kwargs["data"] = json.dumps(body)
        kwargs.setdefault("content_type", "application/json")
    return {"method": "POST", "path": path, "headers": headers, **kwargs}


SINGLE = "/api/v1/triggers"
BATCH = "/api/v1/triggers:batch"


def _created_then_replayed(now: datetime, token: str) -> list[Request]:
    one = trigger(now)
    batch = [trigger(now, latitude=-33.45, longitude=-70.66), trigger(now, pga_ms2=None)]
    return [
        post(SINGLE, token, one),
        post(SINGLE, token, one),  # exact replay: 200
        post(BATCH, token, {"triggers": batch}),
        post(BATCH, token, {"triggers": batch}),  # 200
        post(BATCH, token, {"triggers": [batch[0], trigger(now)]}),  # one new: 201
    ]


def _conflicts(now: datetime, token: str) -> list[Request]:
    one = trigger(now)
    twin = trigger(now)
    return [
        post(SINGLE, token, one),
        post(SINGLE, token, {**one, "score": 0.5}),  # same id, other body: 409
        post(BATCH, token, {"triggers": [trigger(now), {**one, "score": 0.4}]}),  # 409, no rows
        post(BATCH, token, {"triggers": [twin, twin]}),  # the same id twice: 409
    ]


def _auth_errors(now: datetime, token: str) -> list[Request]:
    return [
        post(SINGLE, None, trigger(now)),
        post(SINGLE, "not-a-token", trigger(now)),
        post(BATCH, None, {"triggers": [trigger(now)]}),
        post(SINGLE, None, trigger(now), headers={"Authorization": f"Basic {token}"}),
    ]


def _body_errors(now: datetime, token: str) -> list[Request]:
    return [
        post(SINGLE, token, data="{not json", content_type="application/json"),
        post(SINGLE, token, trigger(now), content_type="text/plain"),
        post(SINGLE, token, data=json.dumps(trigger(now))),  # no Content-Type
        post(SINGLE, token, trigger(now), content_type="application/json; charset=utf-8"),
        post(SINGLE, token, trigger(now, latitude=91.0, score="0.9")),
        post(SINGLE, token, {**trigger(now), "extra": 1}),
        post(SINGLE, token, {k: v for k, v in trigger(now).items() if k != "accuracy_m"}),
        post(SINGLE, token, trigger(now, trigger_time=(now + timedelta(hours=1)).isoformat())),
        post(SINGLE, token, trigger(now, trigger_time="9999-12-31T23:59:59+00:00")),
        post(SINGLE, token, [trigger(now)]),
        post(SINGLE, token, data=b"\xff\xfe", content_type="application/json"),
        post(BATCH, token, {"triggers": []}),
        post(BATCH, token, {"triggers": [trigger(now), trigger(now, longitude=200.0)]}),
        post(BATCH, token, {"triggers": [trigger(now)] * 3, "more": True}),
        post(BATCH, token, data="a" * 300_000, content_type="application/json"),  # 413
    ]


def _not_lean_routes(now: datetime, token: str) -> list[Request]:
    """Other methods and look-alike paths go to Flask in both apps."""
    return [
        {"method": "GET", "path": SINGLE, "headers": {"Authorization": f"Bearer {token}"}},
        post(SINGLE + "/", token, trigger(now)),
        post("/api/v1/triggers:other", token, trigger(now)),
        {"method": "PUT", "path": BATCH, "headers": {"Authorization": f"Bearer {token}"}},
    ]


SCENARIOS: dict[str, Scenario] = {
    "created_then_replayed": _created_then_replayed,
    "conflicts": _conflicts,
    "auth_errors": _auth_errors,
    "body_errors": _body_errors,
    "not_lean_routes": _not_lean_routes,
}


@dataclasses.dataclass
class Twin:
    app: Flask
    sink: RecordingSink
    flask_requests: list[str]


@pytest.fixture
def twins(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[dict[str, Twin]]:
    made: dict[str, Twin] = {}
    for name, lean in (("lean", True), ("flask", False)):
        sink = RecordingSink()
        app = create_app(
            dataclasses.replace(settings, ingest_lean_path=lean, rate_limit_per_minute=1000),
            clock=clock,
            trigger_sink=sink,
            session_factory=session_factory,
        )
        seen: list[str] = []
        app.before_request(lambda seen=seen: seen.append("flask"))  # type: ignore[misc]
        made[name] = Twin(app, sink, seen)
    yield made
    for twin in made.values():
        twin.app.extensions["crowdquake"].engine.dispose()


def _token(app: Flask) -> str:
    response = app.test_client().post(
        "/api/v1/devices",
        json={"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"},
    )
    assert response.status_code == 201
    return str(response.json["token"])  # type: ignore[index]


def _rows(session: Session) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.scalars(select(Trigger).order_by(Trigger.id)).all()
    return [{c: getattr(r, c) for c in Trigger.__table__.columns.keys()} for r in rows]  # noqa: SIM118


def _counters(app: Flask) -> dict[tuple[str, ...], float]:
    registry = app.extensions["crowdquake"].metrics.registry
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value  # type: ignore[arg-type]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels.get("endpoint") != "api_v1.register_device"
    }


def _run(twin: Twin, requests: list[Request], session: Session, caplog: Any) -> dict[str, Any]:
    caplog.clear()
    client = twin.app.test_client()
    answers = []
    for request in requests:
        response = client.open(**request)
        answers.append((response.status, sorted(response.headers.items()), response.get_data()))
    rows = _rows(session)
    session.execute(delete(Trigger))  # the next run starts from the same state
    session.commit()
    access = [
        {k: v for k, v in r.fields.items() if k != "duration_ms"}  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "crowdquake.access"
    ]
    return {"answers": answers, "rows": rows, "access": access}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lean_path_and_flask_views_agree(
    scenario: str,
    twins: dict[str, Twin],
    session: Session,
    now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="crowdquake.access")
    token = _token(twins["lean"].app)  # one device, seen by both apps
    requests = SCENARIOS[scenario](now, token)
    lean = _run(twins["lean"], requests, session, caplog)
    flask = _run(twins["flask"], requests, session, caplog)

    for index, (mine, theirs) in enumerate(zip(lean["answers"], flask["answers"], strict=True)):
        assert mine == theirs, f"request {index} of {scenario}"
    assert lean["rows"] == flask["rows"]
    assert lean["access"] == flask["access"]
    assert len(lean["access"]) == len(requests)
    assert twins["lean"].sink.calls == twins["flask"].sink.calls
    assert _counters(twins["lean"].app) == _counters(twins["flask"].app)
    # The lean app answered its two routes without Flask; everything else went through Flask.
    lean_routes = [r for r in requests if r["method"] == "POST" and r["path"] in (SINGLE, BATCH)]
    assert len(twins["lean"].flask_requests) == 1 + len(requests) - len(lean_routes)
    assert len(twins["flask"].flask_requests) == len(requests)


def test_rate_limit_and_database_errors_agree(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FixedClock,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """429 with Retry-After after the limit, and the 503 of a database outage, on both paths."""
    import psycopg

    from crowdquake.services import triggers

    answers: dict[bool, list[tuple[str, list[tuple[str, str]], bytes]]] = {}
    for lean in (True, False):
        app = create_app(
            dataclasses.replace(settings, ingest_lean_path=lean, rate_limit_per_minute=2),
            clock=clock,
            trigger_sink=RecordingSink(),
            session_factory=session_factory,
        )
        client = app.test_client()
        token = _token(app)
        seen = []
        for _ in range(3):
            response = client.open(**post(SINGLE, token, trigger(now)))
            seen.append((response.status, sorted(response.headers.items()), response.get_data()))
        app2 = create_app(
            dataclasses.replace(settings, ingest_lean_path=lean),
            clock=clock,
            trigger_sink=RecordingSink(),
            session_factory=session_factory,
        )

        def outage(*_args: Any, **_kwargs: Any) -> Any:
            raise psycopg.OperationalError("connection refused")

        with monkeypatch.context() as patch:
            patch.setattr(triggers, "ingest_triggers", outage)
            token2 = _token(app2)
            response = app2.test_client().open(**post(BATCH, token2, {"triggers": [trigger(now)]}))
        seen.append((response.status, sorted(response.headers.items()), response.get_data()))
        answers[lean] = seen
        for each in (app, app2):
            each.extensions["crowdquake"].engine.dispose()
    assert [a[0] for a in answers[True]] == [
        "201 CREATED",
        "201 CREATED",
        "429 TOO MANY REQUESTS",
        "503 SERVICE UNAVAILABLE",
    ]
    # Trigger ids differ between the two runs: compare all but the bodies of the 201s.
    assert answers[True][2:] == answers[False][2:]
    for mine, theirs in zip(answers[True][:2], answers[False][:2], strict=True):
        assert mine[0] == theirs[0]
        assert [h for h in mine[1] if h[0] != "Location"] == [
            h for h in theirs[1] if h[0] != "Location"
        ]


@pytest.mark.skipif(
    not PG_URL, reason="the production write path is PostgreSQL's (CI sets the URL)"
)
def test_paths_agree_with_group_commit_on_postgresql(
    tmp_path: Any, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a test session factory: autocommit session, group commit, real commits."""
    url = recreate_postgres_database(PG_URL, "crowdquake_test_lean_ingest")
    migrate.upgrade(url)
    caplog.set_level(logging.INFO, logger="crowdquake.access")
    base = Settings(
        database_url=url,
        instance_dir=str(tmp_path),
        broker_url="memory://",
        result_backend="cache+memory://",
        detection_handoff=False,
    )
    made: dict[str, Twin] = {}
    for name, lean in (("lean", True), ("flask", False)):
        sink = RecordingSink()
        app = create_app(
            dataclasses.replace(base, ingest_lean_path=lean),
            clock=FixedClock(now),
            trigger_sink=sink,
        )
        assert app.extensions["crowdquake"].trigger_inserter is not None
        made[name] = Twin(app, sink, [])
    engine = made["lean"].app.extensions["crowdquake"].engine
    try:
        token = _token(made["lean"].app)
        for scenario in ("created_then_replayed", "conflicts", "body_errors"):
            requests = SCENARIOS[scenario](now, token)
            with Session(engine) as session:
                lean = _run(made["lean"], requests, session, caplog)
                flask = _run(made["flask"], requests, session, caplog)
            assert lean == flask, scenario
            assert lean["rows"] or scenario == "body_errors"
        assert made["lean"].sink.calls == made["flask"].sink.calls
    finally:
        for twin in made.values():
            twin.app.extensions["crowdquake"].engine.dispose()
