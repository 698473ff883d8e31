"""Operational endpoints: liveness, readiness (database, broker, detection), Prometheus metrics.

``/readyz`` says whether this web process can take requests (database and broker reachable:
the HTTP status) and whether detection runs behind it (the pipeline heartbeat: reported, not
part of the status, because ingest stays durable while detection is down and catches up when it
returns). The answer names no host, port or exception text; the reason goes to the server log.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from crowdquake.services import health
from crowdquake.web import container

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    services = container()
    checks: dict[str, str] = {}
    try:
        # A raw DBAPI round trip: no transaction, so it never waits for a writer's lock.
        raw = services.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            raw.close()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        log.warning("readyz: database unavailable (%s)", exc.__class__.__name__)
        checks["database"] = UNAVAILABLE
    checks["broker"] = _check_broker(services.settings.broker_url)
    ready = all(v == "ok" for v in checks.values())
    detection: dict[str, object] = {"status": "unknown", "last_heartbeat_age_s": None}
    if checks["database"] == "ok":
        try:
            with services.session_factory() as session:
                status = health.detection_status(session, services.clock.now())
            detection = {"status": status.label, "last_heartbeat_age_s": status.last_beat_age_s}
        except Exception as exc:
            log.warning("readyz: detection heartbeat unreadable (%s)", exc.__class__.__name__)
    body = jsonify(status="ready" if ready else "not ready", checks=checks, detection=detection)
    return body, 200 if ready else 503


def _check_broker(url: str) -> str:
    from kombu.connection import Connection

    try:
        with Connection(url, connect_timeout=1.0) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1, timeout=1.0)
    except Exception as exc:  # kombu raises transport-specific errors
        log.warning("readyz: broker unavailable (%s)", exc.__class__.__name__)
        return UNAVAILABLE
    return "ok"


@bp.get("/metrics")
def metrics() -> Response:
    return container().metrics.exposition()  # type: ignore[no-any-return]
