"""Operator actions from the command line: ``operators``, ``events``, ``regions``, ``devices``.

The same service functions as the console (crowdquake.services.review / operators), in one
transaction per command, audited with the actor ``cli:<user>`` (or ``--actor``).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from crowdquake.cli.common import load_settings

T = TypeVar("T")
ACTOR_HELP = "Name written to the audit log (default: cli:<your user name>)."


@contextmanager
def _session() -> Iterator[Session]:
    from crowdquake.storage.session import make_engine, make_session_factory

    engine = make_engine(load_settings().database_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _run(action: Callable[[Session, datetime], T]) -> T:
    """Run one service call in its own transaction; service errors become clean CLI errors."""
    from crowdquake.services.errors import ServiceError

    with _session() as session:
        try:
            result = action(session, datetime.now(UTC))
            session.commit()
        except ServiceError as exc:
            session.rollback()
            fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
            raise click.ClickException(exc.detail + (f" ({fields})" if fields else "")) from None
    return result


# ---------------------------------------------------------------- operators


@click.group()
def operators() -> None:
    """Console operator accounts (roles: viewer, operator, admin)."""


@operators.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    default="operator",
    show_default=True,
)
@click.option(
    "--password",
    default=None,
    help="Password (default: prompted; or CROWDQUAKE_OPERATOR_PASSWORD).",
    envvar="CROWDQUAKE_OPERATOR_PASSWORD",
    show_envvar=False,
)
@click.option("--actor", default=None, help=ACTOR_HELP)
def create(username: str, role: str, password: str | None, actor: str | None) -> None:
    """Create an operator (password at least 10 characters, stored as an argon2 hash)."""
    from crowdquake.services.operators import create_operator

    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    assert password is not None
    op = _run(
        lambda s, now: create_operator(
            s, username=username, password=password, role=role, now=now, actor=_actor(actor)
        )
    )
    click.echo(f"created {op.username} ({op.role})")


@operators.command("list")
def list_() -> None:
    """List operators: name, role, state, last login."""
    from crowdquake.services.operators import list_operators

    rows = _run(lambda s, _now: list_operators(s))
    click.echo(f"{'username':24s} {'role':9s} {'state':9s} last login")
    for op in rows:
        state = "disabled" if op.disabled else "active"
        last = op.last_login_at.isoformat(timespec="seconds") if op.last_login_at else "never"
        click.echo(f"{op.username:24s} {op.role:9s} {state:9s} {last}")


@operators.command("disable")
@click.argument("username")
@click.option("--actor", default=None, help=ACTOR_HELP)
def disable(username: str, actor: str | None) -> None:
    """Disable an operator: their sessions end at their next request, they cannot log in."""
    from crowdquake.services.operators import set_operator_disabled

    _run(lambda s, now: set_operator_disabled(s, username, True, now=now, actor=_actor(actor)))
    click.echo(f"disabled {username}")


@operators.command("enable")
@click.argument("username")
@click.option("--actor", default=None, help=ACTOR_HELP)
def enable(username: str, actor: str | None) -> None:
    """Re-enable a disabled operator."""
    from crowdquake.services.operators import set_operator_disabled

    _run(lambda s, now: set_operator_disabled(s, username, False, now=now, actor=_actor(actor)))
    click.echo(f"enabled {username}")


# ---------------------------------------------------------------- events


@click.group()
def events() -> None:
    """Review events (the console's actions): confirm, reject, release, annotate."""


def _event_action(name: str, doc: str) -> None:
    @events.command(name, help=doc)
    @click.argument("event_id")
    @click.option("--note", default="", help="Reason, kept in the audit log.")
    @click.option("--actor", default=None, help=ACTOR_HELP)
    def command(event_id: str, note: str, actor: str | None) -> None:
        from crowdquake.services import review

        action = getattr(review, name)
        result = _run(lambda s, now: action(s, event_id, actor=_actor(actor), now=now, note=note))
        extra = f", alerts {list(result.alert_ids)}" if result.alert_ids else ""
        click.echo(f"{result.target}: {result.status}{extra}")


_event_action(
    "confirm",
    "Confirm an event (public id, e.g. cq2026ab12cd34); alerts are written "
    "for its current revision unless its region's alerts are off.",
)
_event_action("reject", "Reject an event: not an earthquake; its alerts are withdrawn at once.")
_event_action("release", "Release a held event: confirmed, and its alerts are written now.")


@events.command("annotate")
@click.argument("event_id")
@click.argument("note")
@click.option("--actor", default=None, help=ACTOR_HELP)
def annotate(event_id: str, note: str, actor: str | None) -> None:
    """Add a note to an event (audit log)."""
    from crowdquake.services import review

    _run(lambda s, now: review.annotate(s, event_id, note, actor=_actor(actor), now=now))
    click.echo(f"{event_id}: noted")


@events.command("merge")
@click.argument("event_id")
@click.argument("into_event_id")
@click.option("--actor", default=None, help=ACTOR_HELP)
def merge(event_id: str, into_event_id: str, actor: str | None) -> None:
    """Merge a duplicate EVENT_ID into INTO_EVENT_ID."""
    from crowdquake.services import review

    result = _run(
        lambda s, now: review.merge(s, event_id, into_event_id, actor=_actor(actor), now=now)
    )
    click.echo(f"{result.target}: {result.message}")


# ---------------------------------------------------------------- regions


@click.group()
def regions() -> None:
    """Per-region alert kill switch (region key: an H3 resolution-2 cell)."""


@regions.command("alerts-off")
@click.argument("region_key")
@click.option("--reason", default="", help="Why, kept with the switch and in the audit log.")
@click.option("--actor", default=None, help=ACTOR_HELP)
def alerts_off(region_key: str, reason: str, actor: str | None) -> None:
    """Stop automatic and released alerts for a region (detection goes on); no restart needed."""
    from crowdquake.services.review import set_region_alerts

    result = _run(
        lambda s, now: set_region_alerts(
            s, region_key, False, actor=_actor(actor), now=now, reason=reason
        )
    )
    click.echo(f"{result.target}: {result.status}")


@regions.command("alerts-on")
@click.argument("region_key")
@click.option("--actor", default=None, help=ACTOR_HELP)
def alerts_on(region_key: str, actor: str | None) -> None:
    """Switch a region's alerts back on."""
    from crowdquake.services.review import set_region_alerts

    result = _run(
        lambda s, now: set_region_alerts(s, region_key, True, actor=_actor(actor), now=now)
    )
    click.echo(f"{result.target}: {result.status}")


@regions.command("list")
def list_regions() -> None:
    """Regions with a switch row (no row: alerts on)."""
    from crowdquake.services.review import region_switches

    def rows(s: Session, _now: datetime) -> list[str]:
        return [
            f"{r.region_key} {'on ' if r.alerts_enabled else 'off'} {r.updated_by} "
            f"{r.updated_at.isoformat(timespec='seconds')} {r.reason}"
            for r in region_switches(s)
        ]

    for line in _run(rows):
        click.echo(line)


# ---------------------------------------------------------------- devices


@click.group()
def devices() -> None:
    """Block or unblock phones."""


@devices.command("block")
@click.argument("device_id")
@click.option("--reason", default="", help="Why, kept in the audit log.")
@click.option("--actor", default=None, help=ACTOR_HELP)
def block(device_id: str, reason: str, actor: str | None) -> None:
    """Block a device: its token is refused (401/403) and it leaves detection."""
    from crowdquake.services.review import set_device_blocked

    result = _run(
        lambda s, now: set_device_blocked(
            s, device_id, True, actor=_actor(actor), now=now, reason=reason
        )
    )
    click.echo(f"{result.target}: {result.status}")


@devices.command("unblock")
@click.argument("device_id")
@click.option("--actor", default=None, help=ACTOR_HELP)
def unblock(device_id: str, actor: str | None) -> None:
    """Unblock a device."""
    from crowdquake.services.review import set_device_blocked

    result = _run(
        lambda s, now: set_device_blocked(s, device_id, False, actor=_actor(actor), now=now)
    )
    click.echo(f"{result.target}: {result.status}")
