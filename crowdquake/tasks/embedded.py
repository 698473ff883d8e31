"""The embedded broker (kombu's SQLAlchemy transport on SQLite): prepared before any fork.

kombu creates its two tables and one row per queue lazily, in whichever process touches them
first, guarded only by a thread lock: a worker and a scheduler starting together raced on
``CREATE TABLE`` and on ``UNIQUE constraint failed: kombu_queue.name``, which killed the consumer.
``prepare_broker`` does both once, in the starting process, then drops kombu's engine cache so
no SQLite connection crosses a fork.
"""

from __future__ import annotations

from crowdquake.config import Settings

# The queues crowdquake's tasks use (Celery's default queue; no custom routes).
QUEUES = ("celery",)


def prepare_broker(settings: Settings) -> None:
    if not settings.broker_url.startswith("sqla+"):
        return
    from kombu.connection import Connection
    from kombu.transport import sqlalchemy as kombu_sqla

    from crowdquake.tasks import make_celery

    make_celery(settings)  # creates the broker file's folder, sets the poll interval
    with Connection(settings.broker_url) as conn:  # type: ignore[no-untyped-call]
        channel = conn.default_channel
        for queue in QUEUES:
            channel._new_queue(queue)
    for engine, _ in kombu_sqla.Channel._engines.values():
        engine.dispose()
    kombu_sqla.Channel._engines.clear()
