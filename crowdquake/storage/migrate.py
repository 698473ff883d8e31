"""Run the Alembic migrations in ``migrations/`` programmatically (CLI and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str | None = None, connection: Connection | None = None) -> Config:
    if not (MIGRATIONS_DIR / "alembic.ini").exists():
        raise FileNotFoundError(
            f"{MIGRATIONS_DIR} not found: run from a source checkout (pip install -e .)"
        )
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.attributes["configure_logging"] = False
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
