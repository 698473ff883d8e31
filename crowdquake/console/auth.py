"""Console sessions: who is logged in, what their role allows, and CSRF checks on every POST.

The session is Flask's signed cookie holding the operator id; the operator is re-read on every
request, so disabling an account ends its sessions at once. Every POST of the console (login
included) must carry the session's CSRF token (flask-wtf), as a form field ``csrf_token`` or an
``X-CSRFToken`` header; without it the answer is 400 and nothing is done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, abort, g, request, session
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from crowdquake.services.operators import OperatorView, get_active_operator, role_at_least
from crowdquake.web import container, get_session

P = ParamSpec("P")
R = TypeVar("R")
SESSION_KEY = "operator_id"
COOKIE_NAME = "crowdquake_console"


def configure_app(app: Flask) -> None:
    """Cookie and CSRF settings of the console session (the only user of Flask's session)."""
    settings = container(app).settings
    lifetime = timedelta(hours=settings.console_session_hours)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console_secure_cookies,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=lifetime,
        WTF_CSRF_TIME_LIMIT=int(lifetime.total_seconds()),
        WTF_CSRF_SSL_STRICT=False,  # the Referer check breaks behind TLS-terminating proxies
    )


def current_operator() -> OperatorView | None:
    if "operator" not in g:
        operator_id = session.get(SESSION_KEY)
        g.operator = (
            get_active_operator(get_session(), int(operator_id))
            if isinstance(operator_id, int)
            else None
        )
        if g.operator is None and operator_id is not None:
            session.clear()
    return g.operator  # type: ignore[no-any-return]


def log_in(operator: OperatorView) -> None:
    session.clear()  # a new session on login (no fixation of a pre-login cookie)
    session.permanent = True
    session[SESSION_KEY] = operator.id
    g.operator = operator


def log_out() -> None:
    session.clear()
    g.operator = None


def check_csrf() -> None:
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


def requires(role: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The view needs at least ``role`` (viewer < operator < admin); 403 otherwise."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            operator = current_operator()
            if operator is None:
                abort(401)
            if not role_at_least(operator.role, role):
                abort(403, f"needs the {role} role; you are {operator.role}")
            return view(*args, **kwargs)

        return wrapper

    return decorator
