"""After-commit hand-off from ingest to detection, coalesced per web process.

``DetectionHandoff`` is the web app's ``TriggerSink``: a request that committed triggers only
adds their region keys to a set (no I/O on the request path). One background thread per process
takes the whole set, claims those regions (``services.detection.claim_regions``: at most one
queued run per region, whoever claims) and queues one ``associate_region`` task per claimed
region, then waits ``min_interval_s`` before the next round, so under a flood a region gets one
queued run however many requests wrote to it. A region whose run is already queued or running
is not claimed: that run's follow-up (``tasks.detection.associate_region``) takes the newcomers.

Fail-open: if the database or the broker is unavailable the round is dropped with a warning
(at most one per minute); the triggers are durable with ``status = 'new'`` and the beat sweeper
finds them, as it would without the hand-off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session, sessionmaker

from crowdquake.config import Settings

log = logging.getLogger(__name__)

Dispatch = Callable[[list[str]], int]


class DetectionHandoff:
    def __init__(self, dispatch: Dispatch, min_interval_s: float = 0.02) -> None:
        self._dispatch = dispatch
        self._min_interval_s = min_interval_s
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last_warning = 0.0
        self.rounds = 0

    def triggers_committed(self, region_keys: Iterable[str]) -> None:
        with self._cond:
            self._pending.update(region_keys)
            if self._thread is None or self._pid != os.getpid():  # first use, or after a fork
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="detection-handoff", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                keys = sorted(self._pending)
                self._pending.clear()
            started = time.monotonic()
            try:
                self._dispatch(keys)
                self.rounds += 1
            except Exception as exc:  # fail open: the sweeper finds the triggers
                if started - self._last_warning >= 60.0:
                    self._last_warning = started
                    log.warning(
                        "detection hand-off failed (the sweeper will pick the triggers up): %s: %s",
                        exc.__class__.__name__,
                        exc,
                    )
            rest = self._min_interval_s - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)


def celery_dispatch(settings: Settings, session_factory: sessionmaker[Session]) -> Dispatch:
    """Claim in the database, then queue one ``associate_region`` per claimed region."""
    from crowdquake.services.detection import claim_regions
    from crowdquake.services.ports import SystemClock
    from crowdquake.tasks import make_celery
    from crowdquake.tasks.base import pipeline_config

    celery = make_celery(settings, with_tasks=False)
    config = pipeline_config(settings)

    def dispatch(keys: list[str]) -> int:
        with session_factory() as session:
            claimed = claim_regions(session, keys, SystemClock().now(), config)
            session.commit()
        for key in claimed:
            celery.send_task("crowdquake.detection.associate_region", args=[key])
        return len(claimed)

    return dispatch
