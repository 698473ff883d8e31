"""The Flask application factory."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import Table

from crowdquake.config import Settings
from crowdquake.services.ports import Clock, NullTriggerSink, SystemClock, TriggerSink
from crowdquake.storage.group_commit import GroupCommitInserter
from crowdquake.storage.models import Trigger
from crowdquake.storage.queries import insert_committed_postgres, install_copy_stage
from crowdquake.storage.session import make_engine, make_session_factory
from crowdquake.web import EXTENSION, Container, install_session_teardown

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    trigger_sink: TriggerSink | None = None,
    session_factory: object | None = None,
) -> Flask:
    """Build the app. Tests may pass a ``session_factory`` bound to a rolled-back connection."""
    from crowdquake import console
    from crowdquake.api import alerts, events, feeds, middleware, ops, privacy, views, waveforms
    from crowdquake.api.auth_cache import DeviceAuthCache
    from crowdquake.api.metrics import Metrics
    from crowdquake.api.problems import register_error_handlers
    from crowdquake.api.ratelimit import make_rate_limiter
    from crowdquake.fdsn import views as fdsn_views

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    engine = make_engine(settings.database_url)
    metrics = Metrics()
    autocommit = (
        make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))
        if session_factory is None and engine.dialect.name == "postgresql"
        else None
    )
    triggers_table: Table = Trigger.__table__  # type: ignore[assignment]
    # Batch ingest loads its rows with COPY through a per-connection staging table.
    install_copy_stage(engine, triggers_table)
    if trigger_sink is None and settings.detection_handoff and session_factory is None:
        from crowdquake.tasks.handoff import DetectionHandoff, celery_dispatch

        trigger_sink = DetectionHandoff(celery_dispatch(settings, make_session_factory(engine)))
    app.extensions[EXTENSION] = Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory or make_session_factory(engine),  # type: ignore[arg-type]
        clock=clock or SystemClock(),
        # Without the hand-off (off, or a test's session factory) the sweeper finds the triggers.
        trigger_sink=trigger_sink or NullTriggerSink(),
        rate_limiter=make_rate_limiter(settings.rate_limit_storage_url),
        metrics=metrics,
        auth_cache=DeviceAuthCache(settings.auth_cache_ttl_s),
        autocommit_session_factory=autocommit,
        # Its own transactions, so not with a test's session factory. With one request thread
        # per process nothing is grouped, but the insert is still the lean raw one.
        trigger_inserter=(
            GroupCommitInserter(
                partial(insert_committed_postgres, engine, triggers_table),
                # 1 (default): rows that arrive while a flush waits for its commit (the WAL flush)
                # go together in the next one, so the group grows with the load.
                max_flushes=settings.ingest_group_commit_flushes,
                on_flush=metrics.group_commit_rows.observe,
            )
            if autocommit is not None and settings.ingest_group_commit
            else None
        ),
    )
    install_session_teardown(app)
    metrics.install(app)
    register_error_handlers(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(waveforms.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(privacy.bp)
    app.register_blueprint(fdsn_views.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(console.bp)
    inner: WSGIApplication = app.wsgi_app
    if settings.ingest_lean_path:
        from crowdquake.api.lean_ingest import LeanIngest

        inner = LeanIngest(app, inner)
    # Outermost WSGI layer (trusted proxies, security headers): keep it last.
    app.wsgi_app = middleware.wrap(inner, settings)  # type: ignore[method-assign,assignment]
    return app
