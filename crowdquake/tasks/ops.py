"""Operational tasks."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="crowdquake.ops.ping")
def ping() -> str:
    """Round trip used by health checks and tests to prove a worker is consuming."""
    return "pong"
