"""Per-process resources of a worker and the unit of work of a task.

Each worker process lazily builds its engine, session factory and detector cache on first use
(after the prefork fork, never before) and keeps them on the Celery app object.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.config import Settings
from crowdquake.services.detection import DetectorCache, PipelineConfig
from crowdquake.storage.session import make_engine, make_session_factory
from crowdquake.tasks.metrics import WorkerMetrics


@dataclass
class WorkerRuntime:
    pid: int
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    detectors: DetectorCache
    pipeline: PipelineConfig
    metrics: WorkerMetrics
    edge_model: Any = None


def runtime(app: Celery) -> WorkerRuntime:
    current: WorkerRuntime | None = getattr(app, "crowdquake_runtime", None)
    if current is None or current.pid != os.getpid():
        settings: Settings = app.conf.crowdquake_settings
        engine = make_engine(settings.database_url)
        current = WorkerRuntime(
            pid=os.getpid(),
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            detectors=DetectorCache(),
            pipeline=pipeline_config(settings),
            metrics=WorkerMetrics(),
        )
        app.crowdquake_runtime = current
    return current


def pipeline_config(settings: Settings) -> PipelineConfig:
    disabled = frozenset(
        k.strip() for k in settings.alerts_disabled_regions.split(",") if k.strip()
    )
    return PipelineConfig(
        redrive_after_s=settings.redrive_after_s,
        active_heartbeat_max_age_s=settings.active_heartbeat_max_age_s,
        disabled_alert_regions=disabled,
        trust_all_devices=settings.trust_all_devices,
        batch_max=settings.association_batch_max,
        drain_budget_s=settings.association_drain_s,
    )


@contextmanager
def unit_of_work(app: Any) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = runtime(app).session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
