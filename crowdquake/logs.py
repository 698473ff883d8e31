"""Structured logs: one JSON object per line on stderr (``CROWDQUAKE_LOG_FORMAT=text`` for a
terminal).

Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger`` and ``msg``; a call site adds its
machine-readable fields with ``log.info("...", extra={"fields": {...}})`` (``event`` names the
kind of line: ``http_request``, ``association_run``, ...). Lines never carry personal data: no
IP address, token, device id or position.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Loggers whose INFO lines repeat for every request of our own client or every beat tick.
QUIET_LOGGERS = (
    "httpx",
    "celery.beat",  # "Scheduler: Sending due task ..." every 0.25 s
)
# The periodic tasks' "received" / "succeeded" lines (4+ per second on an idle worker); the
# lines of association runs and deliveries stay.
PERIODIC_TASKS = (
    "crowdquake.detection.sweep",
    "crowdquake.edge.score_waveforms",
    "crowdquake.alerts.retry_deliveries",
)


class PeriodicTaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name not in ("celery.app.trace", "celery.worker.strategy"):
            return True
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(name in message for name in PERIODIC_TASKS)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Replace the root handlers with one stderr handler in ``fmt`` ("json" or "text")."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PeriodicTaskFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
