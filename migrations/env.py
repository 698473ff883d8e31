"""Alembic environment: imports only crowdquake.config and crowdquake.storage (no Flask).

The URL is, in order: ``config.attributes["connection"]`` (tests pass a live connection),
the ``sqlalchemy.url`` main option (set by ``crowdquake db upgrade``), ``CROWDQUAKE_DATABASE_URL``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from crowdquake.config import Settings
from crowdquake.storage import models  # noqa: F401  (registers the tables)
from crowdquake.storage.base import Base
from crowdquake.storage.session import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
