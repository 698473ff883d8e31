"""Run the Alembic migrations programmatically (CLI and tests).

The migrations live in ``migrations/`` at the top of a source checkout; a built wheel ships the
same files as package data in ``crowdquake/migrations/`` (``setup.py`` copies them), so
``pip install crowdquake && crowdquake db upgrade`` works outside a checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

PACKAGED_DIR = Path(__file__).resolve().parents[1] / "migrations"  # installed wheel
CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "migrations"  # source checkout (editable)


def migrations_dir() -> Path:
    """The checkout's migrations when running from one, else the copy inside the package."""
    for candidate in (CHECKOUT_DIR, PACKAGED_DIR):
        if (candidate / "alembic.ini").is_file() and (candidate / "versions").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no migrations in {CHECKOUT_DIR} or {PACKAGED_DIR}: reinstall crowdquake "
        "(the wheel ships them as package data)"
    )


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    directory = migrations_dir()
    config = Config(str(directory / "alembic.ini"))
    config.attributes["configure_logging"] = False
    if directory == PACKAGED_DIR:
        # alembic.ini puts the checkout root on sys.path; inside site-packages that would be
        # the crowdquake package itself, whose modules must not shadow top-level names.
        config.set_main_option("prepend_sys_path", "")
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str | None = None, connection: Connection | None = None) -> None:
    command.upgrade(alembic_config(database_url, connection), "head")


def check(database_url: str) -> None:
    """Raise if the models and the migrated schema differ (``alembic check``)."""
    command.check(alembic_config(database_url))


def is_current(database_url: str) -> bool:
    """True when the database is migrated to the latest revision (no connection is kept)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from crowdquake.storage.session import make_engine

    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    return current == heads
