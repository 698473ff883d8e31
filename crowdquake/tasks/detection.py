"""Detection tasks: the sweeper that queues dirty regions and the per-region association run."""

from __future__ import annotations

import logging

from celery import shared_task

from crowdquake.services import detection
from crowdquake.services.ports import SystemClock
from crowdquake.tasks.base import runtime, unit_of_work

log = logging.getLogger(__name__)


@shared_task(bind=True, name="crowdquake.detection.sweep", ignore_result=True)
def sweep(self: object) -> list[str]:
    """Queue one association run per region with unprocessed triggers (or a lost run)."""
    app = self.app  # type: ignore[attr-defined]
    with unit_of_work(app) as session:
        claimed = detection.claim_dirty_regions(session, SystemClock().now(), runtime(app).pipeline)
    for key in claimed:
        associate_region.delay(key)
    return claimed


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
    """Associate, locate and size the recent triggers of one region; write events and alerts."""
    app = self.app  # type: ignore[attr-defined]
    rt = runtime(app)
    try:
        with unit_of_work(app) as session:
            report = detection.run_region(
                session, region_key, SystemClock().now(), rt.pipeline, rt.detectors
            )
    except BaseException:
        # The in-memory detector may be ahead of the rolled-back database: rebuild next time.
        rt.detectors.entries.pop(region_key, None)
        raise
    for key in report.neighbour_regions:
        associate_region.delay(key)
    if report.alert_ids and rt.settings.webhook_url:
        for alert_id in report.alert_ids:
            app.send_task("crowdquake.alerts.deliver_alert", args=[alert_id])
    log.info(
        "region %s: %d new triggers, %d events created, %d revisions, %d alerts%s",
        region_key,
        report.new_triggers,
        report.events_created,
        report.revisions,
        len(report.alert_ids),
        f" (skipped: {report.skipped})" if report.skipped else "",
    )
    return {"new_triggers": report.new_triggers, "revisions": report.revisions}
