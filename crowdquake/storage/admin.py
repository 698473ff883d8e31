"""Administrative database operations for benchmarks and tests (never used by the service)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from crowdquake.storage.session import make_engine


def recreate_postgres_database(url: str, name: str | None = None) -> str:
    """Drop and create database ``name`` (default: the URL's) on the URL's PostgreSQL server,
    disconnecting its sessions; returns the URL of the new database."""
    parsed = make_url(url)
    target = parsed.set(database=name or parsed.database)
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)
