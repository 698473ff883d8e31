"""Alert delivery tasks: send a new alert to the configured publishers; retry the due ones.

Each (alert, target) pair is its own unit of work, committed as soon as it was attempted, so a
failure later in the task cannot lose the record of a webhook that already answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import shared_task
from sqlalchemy.orm import Session

from crowdquake.config import Settings
from crowdquake.services.ports import SystemClock
from crowdquake.services.publishers import (
    AlertPublisher,
    WebhookPublisher,
    deliver,
    due_deliveries,
)
from crowdquake.tasks import settings_of
from crowdquake.tasks.base import runtime

RETRY_BATCH = 100


def publishers_from_settings(settings: Settings) -> dict[str, AlertPublisher]:
    """Configured publishers by target name (the ``alert_deliveries.target`` column)."""
    url = settings.webhook_url
    if not url:
        return {}
    publisher = WebhookPublisher(url, settings.webhook_secret, settings.webhook_timeout_s)
    return {f"webhook:{url}"[:255]: publisher}


@contextmanager
def task_session(app: Any) -> Iterator[Session]:
    """The worker process's session factory; each delivery attempt commits on its own."""
    session = runtime(app).session_factory()
    try:
        yield session
    finally:
        session.close()


@shared_task(bind=True, name="crowdquake.alerts.deliver_alert", acks_late=True, time_limit=120)
def deliver_alert(self: Any, alert_id: int) -> dict[str, str]:
    """Publish one alert to every configured target; returns the status per target."""
    settings = settings_of(self.app)
    statuses: dict[str, str] = {}
    with task_session(self.app) as session:
        for target, publisher in publishers_from_settings(settings).items():
            outcome = deliver(session, alert_id, publisher, target, SystemClock().now())
            session.commit()
            statuses[target] = outcome.status if outcome else "withdrawn"
            runtime(self.app).metrics.deliveries.labels(statuses[target]).inc()
    return statuses


@shared_task(bind=True, name="crowdquake.alerts.retry_deliveries", time_limit=300)
def retry_deliveries(self: Any) -> int:
    """Re-attempt the pending deliveries whose backoff has elapsed; returns how many."""
    settings = settings_of(self.app)
    publishers = publishers_from_settings(settings)
    with task_session(self.app) as session:
        due = due_deliveries(session, SystemClock().now(), list(publishers), RETRY_BATCH)
        for alert_id, target in due:
            outcome = deliver(session, alert_id, publishers[target], target, SystemClock().now())
            session.commit()
            runtime(self.app).metrics.deliveries.labels(
                outcome.status if outcome else "withdrawn"
            ).inc()
    return len(due)
