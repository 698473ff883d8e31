"""RFC 7807 problem+json responses for every error the web edge can return."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from logging import Logger
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


def device_vanished(exc: BaseException) -> bool:
    """A write for a device erased meanwhile: ``DELETE /devices/me`` answered by another web
    process, whose token cache still knew the token for up to ``auth_cache_ttl_s``. The
    database's foreign key refuses the row (PostgreSQL names the constraint, SQLite's error
    carries the statement); that is a 401, not a server error."""
    text = str(exc).lower()
    return "foreign key" in text and "device" in text


# The database is down, restarting or unreachable (or SQLite stayed locked past its busy timeout).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """What an error answers: status, title, detail, field errors and extra headers."""

    status: int
    title: str
    detail: str
    errors: tuple[FieldError, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def document(self, instance: str) -> dict[str, Any]:
        return problem_document(self.status, self.title, self.detail, self.errors, instance)


def problem_of(
    exc: BaseException, method: str, path: str, max_content_length: int | None, logger: Logger
) -> Problem:
    """The answer to any exception a request raised, for the Flask app and the lean ingest path
    alike (framework-free; logs what an operator must see: outages, unexpected errors)."""
    if isinstance(exc, RateLimited):
        return Problem(
            429, "Too many requests", exc.detail, headers=(("Retry-After", str(exc.retry_after_s)),)
        )
    if isinstance(exc, ServiceError):
        headers = (("Accept", "application/json"),) if isinstance(exc, UnsupportedMediaType) else ()
        return Problem(exc.status, exc.title, exc.detail, exc.errors, headers)
    if isinstance(exc, ValidationError):
        return Problem(
            422,
            "Unprocessable content",
            "the request body does not match the schema",
            field_errors(exc),
        )
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 413:
            detail = f"request body larger than {max_content_length} bytes"
        return Problem(status, exc.name, detail)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        # Nothing was committed, so the client may retry the same request.
        logger.warning("database unavailable on %s %s (%s)", method, path, type(exc).__name__)
        return Problem(
            503,
            "Service Unavailable",
            "the database is unavailable; nothing was stored, retry later",
            headers=(("Retry-After", str(DATABASE_RETRY_AFTER_S)),),
        )
    if device_vanished(exc):
        return Problem(401, "Unauthorized", "this device is no longer registered")
    logger.error("unhandled error on %s %s", method, path, exc_info=exc)
    return Problem(500, "Internal server error", "unexpected error; it has been logged")


def register_error_handlers(app: Flask) -> None:
    def _handle(exc: Exception) -> Response:
        found = problem_of(
            exc, request.method, request.path, app.config["MAX_CONTENT_LENGTH"], app.logger
        )
        response = problem(
            found.status, found.title, found.detail, found.errors, dict(found.headers)
        )
        if isinstance(exc, HTTPException) and found.status == 405 and exc.response is None:
            valid = getattr(exc, "valid_methods", None)
            if valid:
                response.headers["Allow"] = ", ".join(valid)
        return response

    for kind in (ServiceError, ValidationError, RateLimited, HTTPException, *DATABASE_UNAVAILABLE):
        app.register_error_handler(kind, _handle)
    app.register_error_handler(Exception, _handle)
