"""Detection tasks: the sweeper that queues dirty regions and the per-region association run."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task

from crowdquake.services import detection
from crowdquake.services.ports import SystemClock
from crowdquake.tasks.base import runtime, unit_of_work

log = logging.getLogger(__name__)


@shared_task(bind=True, name="crowdquake.detection.sweep", ignore_result=True)
def sweep(self: object) -> list[str]:
    """Queue one association run per region with unprocessed triggers (or a lost run)."""
    app = self.app  # type: ignore[attr-defined]
    rt = runtime(app)
    now = SystemClock().now()
    with unit_of_work(app) as session:
        claimed = detection.claim_dirty_regions(session, now, rt.pipeline)
        rt.metrics.backlog.set(detection.count_pending(session, now, rt.pipeline))
    for key in claimed:
        associate_region.delay(key)
    return claimed


def _claim_follow_up(app: object, region_key: str, more_pending: bool) -> bool:
    """Coalesced work: the triggers that arrived during the run (the hand-off could not claim
    the region while it was queued or running) or beyond ``batch_max``. Claims the region for
    one next run when there are any; returns whether it did."""
    rt = runtime(app)
    now = SystemClock().now()
    with unit_of_work(app) as session:
        if not (more_pending or detection.has_pending(session, region_key, now, rt.pipeline)):
            return False
        return bool(detection.claim_regions(session, [region_key], now, rt.pipeline))


@shared_task(
    bind=True,
    name="crowdquake.detection.associate_region",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def associate_region(self: object, region_key: str) -> dict[str, object]:
    """Associate, locate and size the recent triggers of one region; write events and alerts.

    A drain loop: after each committed run (at most ``batch_max`` new triggers) it claims the
    region again if more arrived meanwhile and runs it at once, without a round trip through
    the broker, for up to ``drain_budget_s``; then it queues the claimed follow-up and returns,
    so other regions' runs are not starved. Under a flood a region is processed back to back in
    bounded batches: throughput saturates at the detector's speed."""
    app = self.app  # type: ignore[attr-defined]
    rt = runtime(app)
    deadline = time.monotonic() + rt.pipeline.drain_budget_s
    new_triggers = revisions = 0
    neighbours_queued: set[str] = set()
    while True:
        report = _run_once(app, region_key, neighbours_queued)
        new_triggers += report.new_triggers
        revisions += report.revisions
        if report.skipped == "locked":  # the holder of the lock follows up itself
            break
        if not _claim_follow_up(app, region_key, report.more_pending):
            break
        if time.monotonic() >= deadline or not (report.new_triggers or report.more_pending):
            # out of budget, or a run that read nothing (what is pending committed after its
            # snapshot, or is unreadable, e.g. a blocked phone's): through the broker, as before
            associate_region.delay(region_key)
            break
    return {"new_triggers": new_triggers, "revisions": revisions}


def _run_once(app: Any, region_key: str, queued: set[str]) -> detection.RunReport:
    """One committed association run of ``region_key``, with its metrics, neighbour runs (not
    in ``queued`` yet: added), alert deliveries and log line."""
    rt = runtime(app)
    started = time.perf_counter()
    try:
        with unit_of_work(app) as session:
            report = detection.run_region(
                session, region_key, SystemClock().now(), rt.pipeline, rt.detectors
            )
    except BaseException:
        # The in-memory detector may be ahead of the rolled-back database: rebuild next time.
        rt.detectors.entries.pop(region_key, None)
        rt.metrics.runs.labels("failed").inc()
        raise
    committed = SystemClock().now()
    rt.metrics.runs.labels("skipped" if report.skipped else "done").inc()
    rt.metrics.run_duration.observe(time.perf_counter() - started)
    rt.metrics.triggers.inc(report.new_triggers)
    rt.metrics.alerts.inc(len(report.alert_ids))
    for cutoff in report.revision_cutoffs:
        rt.metrics.detection_latency.observe((committed - cutoff).total_seconds())
    for key in report.neighbour_regions - queued:  # once per drain loop
        associate_region.delay(key)
        queued.add(key)
    if report.alert_ids and rt.settings.webhook_url:
        for alert_id in report.alert_ids:
            app.send_task("crowdquake.alerts.deliver_alert", args=[alert_id])
    _log_run(report)
    return report


def _log_run(report: detection.RunReport) -> None:
    """One line per association run that did something (an idle worker stays quiet)."""
    level = logging.INFO if report.new_triggers or report.revisions else logging.DEBUG
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "region %s: %d new triggers, %d events created, %d revisions, %d alerts%s",
        report.region_key,
        report.new_triggers,
        report.events_created,
        report.revisions,
        len(report.alert_ids),
        f" (skipped: {report.skipped})" if report.skipped else "",
        extra={
            "fields": {
                "event": "association_run",
                "region": report.region_key,
                "new_triggers": report.new_triggers,
                "events_created": report.events_created,
                "revisions": report.revisions,
                "alerts": len(report.alert_ids),
                "event_ids": report.event_ids,
                "rebuilt": report.rebuilt,
                "more_pending": report.more_pending,
                "skipped": report.skipped,
            }
        },
    )
