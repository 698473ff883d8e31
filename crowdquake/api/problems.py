"""RFC 7807 problem+json responses for every error the web edge can return."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from flask import Flask, Response, json, request
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from crowdquake.services.errors import FieldError, RateLimited, ServiceError

PROBLEM_MIME = "application/problem+json"
DATABASE_RETRY_AFTER_S = 2


def problem_document(
    status: int, title: str, detail: str, errors: Iterable[FieldError] = (), instance: str = ""
) -> dict[str, Any]:
    """The problem+json body; framework-free, so a lean WSGI path renders the same document."""
    return {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance or None,
        "errors": [{"field": e.field, "message": e.message, "type": e.type} for e in errors],
    }


def problem(
    status: int,
    title: str,
    detail: str,
    errors: Iterable[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem_document(status, title, detail, errors, request.path)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("triggers", 2, "latitude")`` -> ``triggers[2].latitude``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def field_errors(exc: ValidationError, prefix: str = "") -> tuple[FieldError, ...]:
    return tuple(
        FieldError(field_path(err["loc"], prefix), err["msg"], err["type"]) for err in exc.errors()
    )


class MalformedBody(ServiceError):
    """The body is not JSON at all (400), as opposed to JSON that breaks the schema (422)."""

    status = 400
    title = "Bad request"


class UnsupportedMediaType(ServiceError):
    """A JSON endpoint got a body declared as something else (or not declared at all)."""

    status = 415
    title = "Unsupported media type"


def validation_problem(exc: ValidationError) -> Response:
    return problem(
        422,
        "Unprocessable content",
        "the request body does not match the schema",
        field_errors(exc),
    )


def device_vanished(exc: BaseException) -> bool:
    """A write for a device erased meanwhile: ``DELETE /devices/me`` answered by another web
    process, whose token cache still knew the token for up to ``auth_cache_ttl_s``. The
    database's foreign key refuses the row (PostgreSQL names the constraint, SQLite's error
    carries the statement); that is a 401, not a server error."""
    text = str(exc).lower()
    return "foreign key" in text and "device" in text


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        headers = {"Accept": "application/json"} if isinstance(exc, UnsupportedMediaType) else None
        return problem(exc.status, exc.title, exc.detail, exc.errors, headers)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        return validation_problem(exc)

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Response:
        return problem(
            429, "Too many requests", exc.detail, headers={"Retry-After": str(exc.retry_after_s)}
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 413:
            detail = f"request body larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = problem(status, exc.name, detail)
        if status == 405 and exc.response is None:
            valid = getattr(exc, "valid_methods", None)
            if valid:
                response.headers["Allow"] = ", ".join(valid)
        return response

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(psycopg.InterfaceError)
    def _database_unavailable(exc: Exception) -> Response:
        # The database is down, restarting or unreachable (or SQLite stayed locked past its busy
        # timeout): nothing was committed, so the client may retry the same request.
        app.logger.warning(
            "database unavailable on %s %s (%s)", request.method, request.path, type(exc).__name__
        )
        return problem(
            503,
            "Service Unavailable",
            "the database is unavailable; nothing was stored, retry later",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if device_vanished(exc):
            return problem(401, "Unauthorized", "this device is no longer registered")
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal server error", "unexpected error; it has been logged")
