"""Celery: ``make_celery(settings)`` builds the app; task modules hold thin named tasks.

Start a worker with ``crowdquake worker`` or ``celery -A crowdquake.tasks.celery_app worker``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from crowdquake.config import Settings

TASK_MODULES = [
    "crowdquake.tasks.ops",
    "crowdquake.tasks.detection",
    "crowdquake.tasks.delivery",
    "crowdquake.tasks.edge",
]


def make_celery(settings: Settings | None = None, *, with_tasks: bool = True) -> Celery:
    """The Celery app. ``with_tasks=False`` (the beat scheduler) sends tasks by name only and
    skips importing the task modules (numpy, scipy, LiteRT: seconds of start-up)."""
    settings = settings or Settings.from_env()
    if settings.broker_url.startswith("sqla+"):
        # kombu passes transport options to create_engine(), so the poll interval must be set on
        # the transport class (docs/design.md); 50 ms instead of 1 s makes the embedded broker
        # usable.
        from kombu.transport import sqlalchemy as kombu_sqla

        kombu_sqla.Transport.polling_interval = settings.broker_poll_interval_s
        _ensure_parent_dir(settings.broker_url)
    if settings.result_backend.startswith("db+sqlite"):
        _ensure_parent_dir(settings.result_backend)
    app = Celery("crowdquake", broker=settings.broker_url, backend=settings.result_backend)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        include=TASK_MODULES if with_tasks else [],
        # Remote control polls one more queue per worker: on the SQLite broker that is load for
        # nothing (crowdquake never uses it), and two hosts' pidbox names may collide.
        worker_enable_remote_control=not settings.embedded_broker,
    )
    app.conf.crowdquake_settings = settings
    from crowdquake.tasks.schedule import beat_schedule

    app.conf.beat_schedule = beat_schedule(settings)
    return app


def _ensure_parent_dir(url: str) -> None:
    from pathlib import Path

    _, _, path = url.partition(":///")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def settings_of(app: Any) -> Settings:
    return app.conf.crowdquake_settings  # type: ignore[no-any-return]
