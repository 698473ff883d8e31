"""What gunicorn itself answers, made to follow the API's contract.

gunicorn rejects some requests before the application sees them: a request line longer than
``limit_request_line`` (414), too many or too large header fields (431), unparsable HTTP (400).
It answers those with a text/html page, and it puts ``Server: gunicorn`` on every response;
neither is configurable. ``install`` (called by ``crowdquake serve`` in the master, before the
workers fork) replaces the two gunicorn functions involved:

- ``gunicorn.util.write_error`` writes an ``application/problem+json`` document with the
  security headers instead of the HTML page (the detail never echoes the request);
- ``gunicorn.http.wsgi.Response.default_headers`` drops the ``Server`` line.

Both are module-level lookups in gunicorn (checked by tests against a live server), so every
worker class that uses gunicorn's HTTP parser gets them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from crowdquake.api.middleware import security_headers
from crowdquake.api.problems import PROBLEM_MIME, problem_document
from crowdquake.config import Settings

_INSTALLED = "_crowdquake_edge"


def problem_bytes(status: int, reason: str, settings: Settings) -> bytes:
    """The full HTTP/1.1 response gunicorn sends for a request it could not hand to the app."""
    details = {
        414: f"request line longer than {settings.max_request_line_bytes} bytes",
        431: f"more than {settings.max_request_headers} header fields, or one longer than "
        f"{settings.max_request_header_bytes} bytes",
        400: "malformed HTTP request",
    }
    body = json.dumps(
        problem_document(status, reason, details.get(status, reason.lower()))
    ).encode()
    headers = [
        ("Connection", "close"),
        ("Content-Type", PROBLEM_MIME),
        ("Content-Length", str(len(body))),
        *security_headers(PROBLEM_MIME),
    ]
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


def install(settings: Settings) -> None:
    import gunicorn.http.wsgi
    import gunicorn.util

    if getattr(gunicorn.util, _INSTALLED, False):
        return

    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        gunicorn.util.write_nonblock(sock, problem_bytes(status_int, reason, settings))

    original: Callable[[Any], list[str]] = gunicorn.http.wsgi.Response.default_headers

    def default_headers(self: Any) -> list[str]:
        return [line for line in original(self) if not line.lower().startswith("server:")]

    gunicorn.util.write_error = write_error
    gunicorn.http.wsgi.Response.default_headers = default_headers
    setattr(gunicorn.util, _INSTALLED, True)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """The request-size limits of ``crowdquake serve`` (gunicorn refuses beyond them)."""
    return {
        "limit_request_line": settings.max_request_line_bytes,
        "limit_request_fields": settings.max_request_headers,
        "limit_request_field_size": settings.max_request_header_bytes,
    }
