"""Triggers in, events and alerts out, through a real Celery worker process (+ beat).

Runs on SQLite with the embedded (server-less) broker, and on PostgreSQL + Redis when the test
URLs are set (CI sets them). The scenario is the 2014 South Napa M6.0 earthquake over simulated
phones (crowdquake.sim), moved to the present.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crowdquake.cli.common import stop
from crowdquake.cli.scenarios import earthquake_scenario
from crowdquake.config import Settings
from crowdquake.domain.geodesy import haversine_km
from crowdquake.services.replay import ReplayData, load_at_once, shifted
from crowdquake.storage import migrate, models
from crowdquake.storage.session import make_engine, make_session_factory
from tests.functional.live import PG_URL, REDIS_URL, flush_redis, fresh_pg_database, start, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]

BACKENDS = ["embedded"] + (["postgresql+redis"] if PG_URL and REDIS_URL else [])


@pytest.fixture(scope="module")
def scenario() -> tuple[Any, Any]:
    return earthquake_scenario("Napa", penetration=0.0005, seed=3)


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "embedded":
        database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
        backend = f"db+sqlite:///{tmp_path / 'results.sqlite3'}"
    else:
        database_url = fresh_pg_database(PG_URL, "pipeline")
        broker_url = backend = REDIS_URL
        flush_redis(REDIS_URL)
    migrate.upgrade(database_url)
    env = {
        "CROWDQUAKE_DATABASE_URL": database_url,
        "CROWDQUAKE_BROKER_URL": broker_url,
        "CROWDQUAKE_RESULT_BACKEND": backend,
        "CROWDQUAKE_INSTANCE_DIR": str(tmp_path),
        "CROWDQUAKE_LOG_LEVEL": "INFO",
    }
    settings = Settings(
        database_url=database_url,
        broker_url=broker_url,
        result_backend=backend,
        instance_dir=str(tmp_path),
    )
    engine = make_engine(database_url)
    stack = {
        "env": env,
        "settings": settings,
        "engine": engine,
        "tmp": tmp_path,
        "kind": request.param,
    }
    yield stack
    engine.dispose()


def _counts(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            m.__tablename__: int(conn.scalar(select(func.count()).select_from(m)) or 0)
            for m in (models.Event, models.EventRevision, models.EventTrigger, models.Alert)
        }


def test_scenario_becomes_one_event_with_alerts(stack: dict[str, Any], scenario: Any) -> None:
    sc, data = scenario
    now = datetime.now(UTC)
    origin = datetime.fromtimestamp(sc.quake.origin_time_s, UTC)
    live = shifted(data, now - timedelta(seconds=60) - origin)
    factory = make_session_factory(stack["engine"])
    with factory() as session:
        load_at_once(session, live, now)
        session.commit()

    worker = start(
        ["worker", "--pool", "solo", "--beat"], stack["env"], stack["tmp"] / "worker.log"
    )
    try:

        def main_event() -> Any:
            with factory() as session:
                rows = session.execute(
                    select(models.Event, models.EventRevision).join(
                        models.EventRevision,
                        models.Event.preferred_revision_id == models.EventRevision.id,
                    )
                ).all()
            near = [
                (e, r)
                for e, r in rows
                if haversine_km(r.lat_deg, r.lon_deg, sc.quake.lat_deg, sc.quake.lon_deg) < 15
            ]
            return near or None

        found = wait_for(main_event, 60, "the worker to create the Napa event")
        with factory() as session:
            wait_for(
                lambda: (
                    session.scalar(
                        select(func.count())
                        .select_from(models.Trigger)
                        .where(models.Trigger.status == "new")
                    )
                    == 0
                ),
                60,
                "every trigger to be processed",
            )
    finally:
        stop(worker)
    assert len(found) == 1, "exactly one event near the epicentre"
    event, revision = found[0]
    assert event.status == "confirmed"
    assert revision.magnitude is not None and revision.n_triggers >= 50
    with factory() as session:
        alerts = session.scalars(
            select(models.Alert).where(models.Alert.event_id == event.id)
        ).all()
        assert alerts, "a confirmed M6 near a city must alert"
        keys = [(a.event_id, a.revision, a.level) for a in alerts]
        assert len(keys) == len(set(keys))
        assert {c["cell"] for a in alerts for c in a.cells}

    # Redelivery: running the same region again (as a redelivered message would) adds nothing.
    from crowdquake.tasks import make_celery

    app = make_celery(stack["settings"])
    app.loader.import_default_modules()
    before = _counts(stack["engine"])
    app.tasks["crowdquake.detection.associate_region"].apply(args=[event.region_key]).get()
    app.tasks["crowdquake.detection.associate_region"].apply(args=[event.region_key]).get()
    assert _counts(stack["engine"]) == before
    app.crowdquake_runtime.engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="bounded batches apply on PostgreSQL")
def test_one_task_drains_a_backlog_in_bounded_batches(scenario: Any, tmp_path: Path) -> None:
    """A region's task runs back to back, each run at most ``association_batch_max`` new
    triggers, until nothing is pending (the drain loop): no broker round trip per batch."""
    from crowdquake.tasks import make_celery

    database_url = fresh_pg_database(PG_URL, "drain")
    flush_redis(REDIS_URL)
    migrate.upgrade(database_url)
    settings = Settings(
        database_url=database_url,
        broker_url=REDIS_URL,
        result_backend=REDIS_URL,
        instance_dir=str(tmp_path),
        association_batch_max=500,
        association_drain_s=600.0,
    )
    truth, data = scenario
    triggering = {t.device_id for t in data.triggers}  # fewer phones to register: a lean test
    data = ReplayData(data.triggers, [h for h in data.heartbeats if h.device_id in triggering])
    now = datetime.now(UTC)
    origin = datetime.fromtimestamp(truth.quake.origin_time_s, UTC)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    with factory() as session:
        load_at_once(session, shifted(data, now - timedelta(seconds=30) - origin), now)
        session.commit()
        regions = sorted(set(session.scalars(select(models.Trigger.region_key))))
        n_triggers = int(session.scalar(select(func.count()).select_from(models.Trigger)) or 0)
    app = make_celery(settings)
    app.loader.import_default_modules()
    try:
        for key in regions:  # one task per region, as the hand-off queues them
            app.tasks["crowdquake.detection.associate_region"].apply(args=[key]).get()
        with factory() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(models.Trigger)
                .where(models.Trigger.status == "new")
            )
            runs = sum(session.scalars(select(models.RegionState.runs)))
            n_events = session.scalar(select(func.count()).select_from(models.Event))
        assert pending == 0
        assert runs >= n_triggers // 500  # bounded batches, all within the one task per region
        assert n_events
    finally:
        app.crowdquake_runtime.engine.dispose()  # type: ignore[attr-defined]
        engine.dispose()
