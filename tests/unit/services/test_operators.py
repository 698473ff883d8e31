"""Operator accounts: argon2 hashes, validation, lockout after repeated failures, disabling."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.services import operators
from crowdquake.services.errors import Conflict, InvalidInput
from crowdquake.storage.models import AuditLog, Operator

PW = "correct horse battery"


def login(session: Session, now: datetime, password: str = PW, user: str = "ada") -> object:
    return operators.authenticate(
        session, user, password, now=now, lockout_failures=3, lockout_s=600, client="127.0.0.1"
    )


def test_create_hashes_with_argon2_and_validates(session: Session, now: datetime) -> None:
    operators.create_operator(
        session, username="ada", password=PW, role="admin", now=now, actor="cli"
    )
    stored = session.scalars(select(Operator)).one()
    assert stored.password_hash.startswith("$argon2id$") and PW not in stored.password_hash
    with pytest.raises(Conflict):
        operators.create_operator(
            session, username="ada", password=PW, role="admin", now=now, actor="cli"
        )
    with pytest.raises(InvalidInput) as bad:
        operators.create_operator(
            session, username="a b", password="short", role="boss", now=now, actor="cli"
        )
    assert {e.field for e in bad.value.errors} == {"username", "password", "role"}


def test_lockout_after_repeated_failures(session: Session, now: datetime) -> None:
    operators.create_operator(
        session, username="ada", password=PW, role="viewer", now=now, actor="cli"
    )
    assert login(session, now) is not None
    for _ in range(3):
        assert login(session, now, "wrong password") is None
    # Locked: even the right password fails until the lock expires.
    assert login(session, now + timedelta(seconds=10)) is None
    assert login(session, now + timedelta(seconds=601)) is not None
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions.count("login.failed") == 4 and actions.count("login") == 2
    locked = session.scalars(
        select(AuditLog).where(AuditLog.details["locked_until"].is_not(None))
    ).all()
    assert len(locked) >= 1


def test_disabled_operator_cannot_log_in_or_keep_a_session(session: Session, now: datetime) -> None:
    op = operators.create_operator(
        session, username="ada", password=PW, role="operator", now=now, actor="cli"
    )
    assert operators.get_active_operator(session, op.id) is not None
    operators.set_operator_disabled(session, "ada", True, now=now, actor="cli")
    assert operators.get_active_operator(session, op.id) is None
    assert login(session, now) is None
    assert login(session, now, user="nobody") is None
    assert [o.username for o in operators.list_operators(session)] == ["ada"]


def test_roles_are_ordered() -> None:
    assert operators.role_at_least("admin", "operator")
    assert operators.role_at_least("operator", "viewer")
    assert not operators.role_at_least("viewer", "operator")
    assert not operators.role_at_least("operator", "admin")


def test_ensure_operator_resets_the_demo_login(session: Session, now: datetime) -> None:
    operators.ensure_operator(
        session, username="demo", password=PW, role="admin", now=now, actor="demo"
    )
    operators.set_operator_disabled(session, "demo", True, now=now, actor="cli")
    operators.ensure_operator(
        session, username="demo", password="another password", role="admin", now=now, actor="demo"
    )
    assert login(session, now, "another password", user="demo") is not None
    assert login(session, now, PW, user="demo") is None
