"""Console operators: accounts with argon2 password hashes, roles, login with lockout.

Roles are ordered: a viewer reads; an operator also acts on events (confirm, reject, release,
merge, annotate); an admin also switches region alerts, blocks devices and re-sends webhooks.
After ``lockout_failures`` consecutive failed logins an account is locked for ``lockout_s``; the
lock and every login (good or bad) are written to the audit log.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdquake.services.audit import record
from crowdquake.services.errors import Conflict, FieldError, InvalidInput, NotFound
from crowdquake.storage.models import Operator
from crowdquake.storage.models.operators import OPERATOR_ROLES

MIN_PASSWORD_CHARS = 10
_HASHER = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 hash.
_DUMMY_HASH = _HASHER.hash("crowdquake-no-such-operator")


@dataclass(frozen=True, slots=True)
class OperatorView:
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None


def role_at_least(role: str, needed: str) -> bool:
    return OPERATOR_ROLES.index(role) >= OPERATOR_ROLES.index(needed)


def _view(op: Operator) -> OperatorView:
    return OperatorView(
        op.id, op.username, op.role, op.disabled, op.created_at, op.last_login_at, op.locked_until
    )


def create_operator(
    session: Session, *, username: str, password: str, role: str, now: datetime, actor: str
) -> OperatorView:
    errors = []
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace(".", "").isalnum()
    ):
        errors.append(FieldError("username", "1-64 letters, digits, '.' or '_'"))
    if len(password) < MIN_PASSWORD_CHARS:
        errors.append(FieldError("password", f"at least {MIN_PASSWORD_CHARS} characters"))
    if role not in OPERATOR_ROLES:
        errors.append(FieldError("role", f"one of {', '.join(OPERATOR_ROLES)}"))
    if errors:
        raise InvalidInput("invalid operator", tuple(errors))
    if session.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise Conflict(f"operator {username!r} exists")
    op = Operator(
        username=username,
        password_hash=_HASHER.hash(password),
        role=role,
        created_at=now,
        disabled=False,
        failed_logins=0,
    )
    session.add(op)
    session.flush()
    record(session, actor, "operator.create", "operator", username, {"role": role}, now)
    return _view(op)


def list_operators(session: Session) -> list[OperatorView]:
    return [_view(op) for op in session.scalars(select(Operator).order_by(Operator.username))]


def set_operator_disabled(
    session: Session, username: str, disabled: bool, *, now: datetime, actor: str
) -> OperatorView:
    op = session.scalar(select(Operator).where(Operator.username == username))
    if op is None:
        raise NotFound(f"no operator {username!r}")
    op.disabled = disabled
    session.flush()
    action = "operator.disable" if disabled else "operator.enable"
    record(session, actor, action, "operator", username, {}, now)
    return _view(op)


def ensure_operator(
    session: Session, *, username: str, password: str, role: str, now: datetime, actor: str
) -> OperatorView:
    """Create the operator, or reset its password and role and re-enable it (the demo's login)."""
    op = session.scalar(select(Operator).where(Operator.username == username))
    if op is None:
        return create_operator(
            session, username=username, password=password, role=role, now=now, actor=actor
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput("invalid operator", (FieldError("password", "too short"),))
    op.password_hash = _HASHER.hash(password)
    op.role = role
    op.disabled = False
    op.failed_logins = 0
    op.locked_until = None
    session.flush()
    record(session, actor, "operator.reset", "operator", username, {"role": role}, now)
    return _view(op)


def count_operators(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Operator)) or 0)


def get_active_operator(session: Session, operator_id: int) -> OperatorView | None:
    """The operator a session cookie names, or None if gone or disabled (ends the session)."""
    op = session.get(Operator, operator_id)
    if op is None or op.disabled:
        return None
    return _view(op)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    lockout_failures: int,
    lockout_s: float,
    client: str,
) -> OperatorView | None:
    """The operator if the password is right and the account usable; None otherwise (the caller
    says only "invalid credentials" so as not to tell which part was wrong)."""
    op = session.scalar(select(Operator).where(Operator.username == username))
    if op is None:
        with suppress(VerificationError):
            _HASHER.verify(_DUMMY_HASH, password)
        record(
            session,
            username[:64] or "-",
            "login.failed",
            "operator",
            username[:64],
            {"client": client, "reason": "unknown user"},
            now,
        )
        return None
    if op.locked_until is not None and op.locked_until > now:
        record(
            session,
            op.username,
            "login.failed",
            "operator",
            op.username,
            {"client": client, "reason": "locked"},
            now,
        )
        return None
    ok: bool
    try:
        ok = _HASHER.verify(op.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or op.disabled:
        op.failed_logins += 1
        details = {"client": client, "reason": "disabled" if ok else "bad password"}
        if op.failed_logins >= lockout_failures:
            op.locked_until = now + timedelta(seconds=lockout_s)
            op.failed_logins = 0
            details["locked_until"] = op.locked_until.isoformat()
        record(session, op.username, "login.failed", "operator", op.username, details, now)
        return None
    op.failed_logins = 0
    op.locked_until = None
    op.last_login_at = now
    if _HASHER.check_needs_rehash(op.password_hash):
        op.password_hash = _HASHER.hash(password)
    record(session, op.username, "login", "operator", op.username, {"client": client}, now)
    return _view(op)
