"""The lean WSGI path of trigger ingest: ``POST /api/v1/triggers`` and ``/api/v1/triggers:batch``
answered before Flask; every other request goes to Flask untouched.

Why: per request, Flask pushes an app and a request context, builds a Request, routes, runs the
before/after hooks and builds a Response. Measured in one process with the database write
stubbed out (``crowdquake bench ingest``, five runs on 2026-12-02, loaded 2-core machine), a
single trigger cost 730-1,050 us of CPU through the Flask views, 170-240 us through this path,
and Flask's own ``GET /healthz`` 170-210 us.
``crowdquake bench ingest --ingest-path flask`` serves the routes by the views for comparison.

What stays the same, each from its one source:

- the rules: bearer token (``request.device_of_token``, the same token cache), the per-device
  rate limit, Content-Type, body size (werkzeug's ``get_input_stream`` with the app's
  ``MAX_CONTENT_LENGTH``), the body schema (``request.validate_json`` with ``trigger_context``);
  checked in the order of the Flask views: 401, 429, 415, 413, 400, 422, then 409 from the use
  case;
- the use case (``ingest_edge.ingest``: ``services.triggers.ingest_triggers``, the process's
  group commit for single triggers, the autocommit session where the Flask view uses one);
- the unit of work: commit before the 2xx (so a 2xx means durable), rollback on any error, the
  hand-off of the created triggers' regions to detection only after the commit;
- errors: ``problems.problem_of`` maps every exception exactly as the Flask error handlers do
  (503 for a database outage, 401 for a device erased meanwhile, a logged 500 otherwise), and
  the document is encoded by the Flask app's own JSON provider;
- the request counters, latency histogram and access log line (``Metrics.observe_request``,
  with the Flask endpoint names and route patterns);
- the outer WSGI layers (security headers, trusted proxies): ``middleware.wrap`` mounts this
  path inside them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_content_length, get_input_stream

from crowdquake.api import ingest_edge, schemas
from crowdquake.api.problems import PROBLEM_MIME, problem_of
from crowdquake.api.request import (
    bearer_token,
    check_rate_limit,
    device_of_token,
    require_json,
    trigger_context,
    validate_json,
)
from crowdquake.web import container

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

JSON_MIME = "application/json"


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: str  # the Flask endpoint of the same route (metrics label)
    rule: str
    batch: bool


ROUTES = {
    "/api/v1/triggers": Route("api_v1.post_trigger", "/api/v1/triggers", batch=False),
    "/api/v1/triggers:batch": Route(
        "api_v1.post_trigger_batch", "/api/v1/triggers:batch", batch=True
    ),
}

Answer = tuple[int, list[tuple[str, str]], bytes]


def _status_line(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


class LeanIngest:
    """WSGI app: the two ingest routes here, everything else to ``fallback`` (the Flask app)."""

    def __init__(self, app: Flask, fallback: WSGIApplication) -> None:
        self.fallback = fallback
        self.services = container(app)
        self.dumps = app.json.dumps
        self.logger = app.logger
        self.max_body_bytes: int | None = app.config["MAX_CONTENT_LENGTH"]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = ROUTES.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") != "POST":
            return self.fallback(environ, start_response)
        started = time.perf_counter()
        try:
            status, headers, body = self._serve(environ, route)
        except Exception as exc:  # every error is a problem document, as in the Flask app
            status, headers, body = self._problem(exc, route)
        headers.append(("Content-Length", str(len(body))))
        self.services.metrics.observe_request(
            route.endpoint,
            "POST",
            status,
            route.rule,
            get_content_length(environ),
            time.perf_counter() - started,
        )
        start_response(_status_line(status), headers)
        return [body]

    def _serve(self, environ: WSGIEnvironment, route: Route) -> Answer:
        services = self.services
        settings = services.settings
        autocommit = services.autocommit_session_factory
        factory = autocommit if not route.batch and autocommit is not None else None
        session = (factory or services.session_factory)()
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
            device = device_of_token(token, services.auth_cache, session)
            check_rate_limit(
                services.rate_limiter, f"device:{device.device_id}", settings.rate_limit_per_minute
            )
            require_json(environ.get("CONTENT_TYPE"))
            raw = get_input_stream(environ, max_content_length=self.max_body_bytes).read()
            now = services.clock.now()
            context = trigger_context(settings, now)
            items: list[schemas.TriggerIn] = (
                validate_json(schemas.TriggerBatchIn, raw, context).triggers
                if route.batch
                else [validate_json(schemas.TriggerIn, raw, context)]
            )
            results, regions = ingest_edge.ingest(
                services, session, device.device_id, items, now=now, group_commit=not route.batch
            )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if regions:
            services.trigger_sink.triggers_committed(regions)
        status = 201 if any(r.created for r in results) else 200
        headers = [("Content-Type", JSON_MIME)]
        if route.batch:
            out = schemas.TriggerBatchAccepted(triggers=[ingest_edge.accepted(r) for r in results])
            return status, headers, out.model_dump_json().encode()
        (result,) = results
        headers.append(("Location", ingest_edge.trigger_location(result.id)))
        return status, headers, ingest_edge.accepted(result).model_dump_json().encode()

    def _problem(self, exc: Exception, route: Route) -> Answer:
        found = problem_of(exc, "POST", route.rule, self.max_body_bytes, self.logger)
        body = self.dumps(found.document(route.rule)).encode()
        return found.status, [("Content-Type", PROBLEM_MIME), *found.headers], body
