"""Persistence: SQLAlchemy 2 models, engine/session factories and queries (no Flask here)."""
