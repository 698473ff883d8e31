"""Prometheus metrics of the web edge: request counts and latency, ingest counters.

Each app owns its registry (no module-level state). Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR``
(``crowdquake serve`` does) so ``/metrics`` aggregates every worker process.
"""

from __future__ import annotations

import logging
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

access_log = logging.getLogger("crowdquake.access")

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "crowdquake_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "crowdquake_http_request_duration_seconds",
            "HTTP request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.triggers = Counter(
            "crowdquake_triggers_ingested",
            "Triggers accepted, by outcome (created, replayed)",
            ["outcome"],
            registry=self.registry,
        )
        self.group_commit_rows = Histogram(
            "crowdquake_ingest_group_commit_rows",
            "Triggers per group-commit flush of single-trigger requests",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
            registry=self.registry,
        )
        self.heartbeats = Counter(
            "crowdquake_heartbeats", "Heartbeats accepted", registry=self.registry
        )

    def exposition(self) -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    def observe_request(
        self,
        endpoint: str,
        method: str,
        status: int,
        route: str | None,
        bytes_in: int | None,
        elapsed_s: float | None,
    ) -> None:
        """Count and time one request and write its access log line (Flask views and the lean
        ingest path alike). ``route`` is the route pattern, not the URL: no ids or query strings
        in the log."""
        if elapsed_s is not None:
            self.latency.labels(endpoint).observe(elapsed_s)
        self.requests.labels(endpoint, method, str(status)).inc()
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %d",
                method,
                route or "unmatched",
                status,
                extra={
                    "fields": {
                        "event": "http_request",
                        "method": method,
                        "route": route,
                        "status": status,
                        "bytes_in": bytes_in,
                        "duration_ms": None if elapsed_s is None else round(elapsed_s * 1000, 2),
                    }
                },
            )

    def install(self, app: Flask) -> None:
        @app.before_request
        def _start_timer() -> None:
            g.request_started = time.perf_counter()

        @app.after_request
        def _observe(response: Response) -> Response:
            started = g.get("request_started")
            self.observe_request(
                request.endpoint or "unmatched",
                request.method,
                response.status_code,
                request.url_rule.rule if request.url_rule is not None else None,
                request.content_length,
                time.perf_counter() - started if started is not None else None,
            )
            return response
