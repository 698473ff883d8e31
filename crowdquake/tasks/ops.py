"""Operational tasks: the ping of health checks and the pipeline's heartbeat."""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import shared_task

from crowdquake.services import devices, health, privacy
from crowdquake.services.ports import SystemClock
from crowdquake.tasks import settings_of
from crowdquake.tasks.base import unit_of_work


@shared_task(name="crowdquake.ops.ping")
def ping() -> str:
    """Round trip used by health checks and tests to prove a worker is consuming."""
    return "pong"


@shared_task(bind=True, name="crowdquake.ops.heartbeat", ignore_result=True)
def heartbeat(self: Any) -> None:
    """Stamp the detection heartbeat (queued by beat; read by ``/readyz``)."""
    with unit_of_work(self.app) as session:
        health.record_heartbeat(
            session, SystemClock().now(), f"{socket.gethostname()}:{os.getpid()}"
        )


@shared_task(bind=True, name="crowdquake.ops.purge_expired", ignore_result=True, time_limit=600)
def purge_expired(self: Any) -> int:
    """Delete triggers and waveforms older than CROWDQUAKE_TRIGGER_RETENTION_DAYS and forget
    registration network prefixes older than CROWDQUAKE_DEVICE_NETWORK_RETENTION_DAYS (beat,
    hourly)."""
    settings = settings_of(self.app)
    now = SystemClock().now()
    with unit_of_work(self.app) as session:
        devices.forget_network_prefixes(session, now, settings.device_network_retention_days)
        return privacy.purge_expired(session, now, settings.trigger_retention_days)
