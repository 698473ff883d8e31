"""Web-edge CPU per request, measured in one process: the part of ingest the lean path removes.

The wrk phases of ``crowdquake bench ingest`` share the machine's cores with wrk and PostgreSQL,
so on a busy machine their figures move with everybody else's load. This phase calls the WSGI
application directly (no HTTP server, no load generator) and counts the process's CPU time per
request (``time.process_time``) for ``GET /healthz`` and for one single-trigger ``POST`` through
the lean path and through the Flask views, with the database write replaced by a stub that
accepts every row (the write's cost is the same on both paths). Token, rate limit, validation,
digest, H3 cells, metrics and response are real. The best of a few rounds is reported, since
other processes can only add time.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from crowdquake.config import Settings
from crowdquake.storage.group_commit import GroupCommitInserter


def _trigger_body(now: datetime) -> bytes:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "trigger_time": (now - timedelta(seconds=1)).isoformat(),
            "clock_offset_s": 0.05,
            "latitude": 37.87,
            "longitude": -122.26,
            "accuracy_m": 15.0,
            "pga_ms2": 0.21,
            "score": 0.93,
            "model_version": "cq-edge-1",
            "phase_hint": "P",
        }
    ).encode()


def _cpu_us_per_call(app: Callable[..., Iterable[bytes]], environs: list[dict[str, Any]]) -> float:
    statuses: list[str] = []

    def start_response(status: str, _headers: Any, _exc_info: Any = None) -> None:
        statuses.append(status)

    started = time.process_time()
    for environ in environs:
        b"".join(app(environ, start_response))
    spent = time.process_time() - started
    bad = [s for s in statuses if not s.startswith(("200", "201"))]
    if bad:
        raise RuntimeError(f"edge CPU phase got {bad[0]}")
    return spent / len(environs) * 1e6


def edge_cpu_us(settings: Settings, *, requests: int = 1500, rounds: int = 3) -> dict[str, float]:
    """Best-of-``rounds`` CPU microseconds per request: ``trivial``, ``lean``, ``flask``."""
    from crowdquake.app import create_app

    base = dataclasses.replace(
        settings,
        detection_handoff=False,
        rate_limit_per_minute=1_000_000_000,
        registration_rate_limit_per_minute=1_000_000_000,
        log_level="WARNING",
    )
    apps = {}
    for name, lean in (("lean", True), ("flask", False)):
        app = create_app(dataclasses.replace(base, ingest_lean_path=lean))
        # The stub write: every row is new. Same on both paths, so it cancels out.
        app.extensions["crowdquake"].trigger_inserter = GroupCommitInserter(
            lambda rows: {row["id"] for row in rows}
        )
        apps[name] = app
    registered = (
        apps["lean"]
        .test_client()
        .post(
            "/api/v1/devices",
            json={"platform": "android", "app_version": "1.0.0", "model_version": "cq-edge-1"},
        )
    )
    token = registered.json["token"]  # type: ignore[index]
    now = datetime.now(UTC)

    def posts() -> list[dict[str, Any]]:
        return [
            EnvironBuilder(
                path="/api/v1/triggers",
                method="POST",
                data=_trigger_body(now),
                content_type="application/json",
                headers=Headers([("Authorization", f"Bearer {token}")]),
            ).get_environ()
            for _ in range(requests)
        ]

    def gets() -> list[dict[str, Any]]:
        return [EnvironBuilder(path="/healthz").get_environ() for _ in range(requests)]

    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, app, make in (
            ("trivial", apps["flask"], gets),
            ("lean", apps["lean"], posts),
            ("flask", apps["flask"], posts),
        ):
            environs = make()
            _cpu_us_per_call(app.wsgi_app, environs[:50])  # warm up (caches, prepared paths)
            cpu = _cpu_us_per_call(app.wsgi_app, environs[50:])
            best[name] = min(best.get(name, cpu), cpu)
    for app in apps.values():
        app.extensions["crowdquake"].engine.dispose()
    return best
