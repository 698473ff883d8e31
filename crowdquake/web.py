"""What every blueprint needs from the running app: the container and the unit of work.

The session is opened lazily per request and closed at teardown. ``transactional`` commits before
the response leaves (so a 2xx means durable), rolls back on any error, and runs after-commit hooks
(such as handing triggers to detection) only once the commit succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crowdquake.config import Settings
from crowdquake.services.ports import Clock, TriggerSink
from crowdquake.storage.group_commit import GroupCommitInserter

EXTENSION = "crowdquake"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    trigger_sink: TriggerSink
    rate_limiter: Any
    metrics: Any
    auth_cache: Any
    autocommit_session_factory: sessionmaker[Session] | None = None
    trigger_inserter: GroupCommitInserter | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def container(app: Flask | None = None) -> Container:
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = container().session_factory()
    return g.db_session  # type: ignore[no-any-return]


def single_statement(view: Callable[P, R]) -> Callable[P, R]:
    """For a view whose only write is one statement: run it in autocommit mode, so the INSERT
    is its own durable transaction (one round trip instead of BEGIN + INSERT + COMMIT). Only
    where the backend supports it (PostgreSQL). Goes above ``@transactional``, which opens the
    request's session."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        factory = container().autocommit_session_factory
        if factory is not None and "db_session" not in g:
            g.db_session = factory()
        return view(*args, **kwargs)

    return wrapper


def after_commit(hook: Callable[[], None]) -> None:
    """Run ``hook`` once the current request's transaction has committed."""
    g.setdefault("after_commit", []).append(hook)


def transactional(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = get_session()
        try:
            response = view(*args, **kwargs)
            session.commit()
        except BaseException:
            session.rollback()
            g.pop("after_commit", None)
            raise
        for hook in g.pop("after_commit", []):
            hook()
        return response

    return wrapper


def install_session_teardown(app: Flask) -> None:
    @app.teardown_request
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
