"""The one beat schedule of crowdquake."""

from __future__ import annotations

from typing import Any

from crowdquake.config import Settings
from crowdquake.services.health import HEARTBEAT_INTERVAL_S


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    tick = settings.detection_tick_s
    return {
        "detection-sweep": {
            "task": "crowdquake.detection.sweep",
            "schedule": tick,
            # A sweep that waited longer than a few ticks (broker outage) is useless: the next
            # one reads the database afresh.
            "options": {"expires": max(4 * tick, 1.0)},
        },
        "edge-score-waveforms": {
            "task": "crowdquake.edge.score_waveforms",
            "schedule": 2.0,
            "options": {"expires": 10.0},
        },
        "ops-heartbeat": {
            "task": "crowdquake.ops.heartbeat",
            "schedule": HEARTBEAT_INTERVAL_S,
            "options": {"expires": 4 * HEARTBEAT_INTERVAL_S},
        },
        "privacy-purge-expired": {
            "task": "crowdquake.ops.purge_expired",
            "schedule": 3600.0,
            "options": {"expires": 1800.0},
        },
        "alerts-retry-deliveries": {
            "task": "crowdquake.alerts.retry_deliveries",
            "schedule": 2.0,
            "options": {"expires": 10.0},
        },
    }
