"""JSON log lines carry the event fields; periodic task chatter is dropped, the rest kept."""

from __future__ import annotations

import json
import logging

from crowdquake.logs import JsonFormatter, PeriodicTaskFilter


def _record(name: str, msg: str, args: object = (), **fields: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]
    if fields:
        record.fields = fields
    return record


def test_json_line_has_message_and_fields() -> None:
    line = JsonFormatter().format(
        _record("crowdquake.tasks.detection", "region %s: %d new", ("82a", 3), event="x", n=3)
    )
    parsed = json.loads(line)
    assert parsed["msg"] == "region 82a: 3 new"
    assert parsed["event"] == "x" and parsed["n"] == 3
    assert parsed["level"] == "INFO" and parsed["ts"].endswith("+00:00")


def test_periodic_task_lines_are_dropped_association_lines_kept() -> None:
    keep = PeriodicTaskFilter().filter
    msg = "Task %(name)s[%(id)s] received"
    assert not keep(
        _record("celery.worker.strategy", msg, {"name": "crowdquake.detection.sweep", "id": "1"})
    )
    assert keep(
        _record(
            "celery.worker.strategy",
            msg,
            {"name": "crowdquake.detection.associate_region", "id": "2"},
        )
    )
    assert keep(_record("crowdquake.tasks.detection", "crowdquake.detection.sweep failed"))
