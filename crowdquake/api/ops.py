"""Operational endpoints: liveness, readiness (database and broker), Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from crowdquake.web import container

bp = Blueprint("ops", __name__)


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
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"error: {exc.__class__.__name__}: {exc}"
    checks["broker"] = _check_broker(services.settings.broker_url)
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _check_broker(url: str) -> str:
    from kombu.connection import Connection

    try:
        with Connection(url, connect_timeout=1.0) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1, timeout=1.0)
    except Exception as exc:  # kombu raises transport-specific errors
        return f"error: {exc.__class__.__name__}: {exc}"
    return "ok"


@bp.get("/metrics")
def metrics() -> Response:
    return container().metrics.exposition()  # type: ignore[no-any-return]
