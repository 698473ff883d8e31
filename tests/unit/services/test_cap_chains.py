"""CAP message chains: one chain per level, Updates reference only their own chain, a Cancel
when a level drops or the event is withdrawn; every message validates against the OASIS CAP
1.2 XSD (tests/data/CAP-v1.2.xsd, see tests/data/README.md)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from crowdquake.config import Settings
from crowdquake.services import cap
from crowdquake.storage.catalog import AlertedEvent, AlertRow
from tests.unit.services.test_cap import make_alert

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
XSD = etree.XMLSchema(etree.parse(str(Path(__file__).parents[2] / "data" / "CAP-v1.2.xsd")))
EVENT = uuid.uuid4()


def event(rows: list[tuple[int, int, str]], status: str = "confirmed") -> AlertedEvent:
    """rows: (alert id, revision, level); alert k is issued k seconds after T0."""
    return AlertedEvent(
        event_id=EVENT,
        public_id="cq2026chain",
        status=status,
        updated_at=T0 + timedelta(seconds=100),
        alerts=[
            AlertRow(i, EVENT, rev, level, T0 + timedelta(seconds=i)) for i, rev, level in rows
        ],
    )


def kinds(messages: list[cap.CapMessage]) -> list[tuple[str, str, str]]:
    return [(m.msg_type, m.level, m.identifier.removeprefix("crowdquake-alert-")) for m in messages]


def test_each_level_is_its_own_chain() -> None:
    messages = cap.chain_messages(
        event(
            [(1, 1, "take_action"), (2, 1, "be_aware"), (3, 2, "take_action"), (4, 2, "be_aware")]
        )
    )
    assert kinds(messages) == [
        ("Alert", "take_action", "1"),
        ("Alert", "be_aware", "2"),
        ("Update", "take_action", "3"),
        ("Update", "be_aware", "4"),
    ]
    assert [r[0] for r in messages[2].references] == ["crowdquake-alert-1"]
    assert [r[0] for r in messages[3].references] == ["crowdquake-alert-2"]


def test_a_level_that_drops_is_cancelled_and_may_start_again() -> None:
    messages = cap.chain_messages(
        event(
            [
                (1, 1, "take_action"),
                (2, 2, "take_action"),
                (3, 3, "be_aware"),
                (4, 4, "take_action"),
            ]
        )
    )
    assert kinds(messages) == [
        ("Alert", "take_action", "1"),
        ("Update", "take_action", "2"),
        ("Cancel", "take_action", "1-cancel"),
        ("Alert", "be_aware", "3"),
        ("Cancel", "be_aware", "3-cancel"),
        ("Alert", "take_action", "4"),
    ]
    cancel = messages[2]
    assert [r[0] for r in cancel.references] == ["crowdquake-alert-1", "crowdquake-alert-2"]
    assert cancel.sent == T0 + timedelta(seconds=3)  # with the revision that dropped it
    assert cancel.note is not None and "no longer expects take action" in cancel.note


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_a_withdrawn_event_cancels_every_open_chain(status: str) -> None:
    rows = [(1, 1, "take_action"), (2, 1, "be_aware"), (3, 2, "take_action"), (4, 2, "be_aware")]
    messages = cap.chain_messages(event(rows, status=status))
    assert len(messages) == 6
    assert kinds(messages)[-2:] == [
        ("Cancel", "take_action", "1-cancel"),
        ("Cancel", "be_aware", "2-cancel"),
    ]
    assert all(m.sent == T0 + timedelta(seconds=100) for m in messages[-2:])
    assert [r[0] for r in messages[-2].references] == ["crowdquake-alert-1", "crowdquake-alert-3"]
    assert [r[0] for r in messages[-1].references] == ["crowdquake-alert-2", "crowdquake-alert-4"]
    assert status in (messages[-1].note or "")


def test_every_message_validates_against_the_cap_xsd() -> None:
    messages = cap.chain_messages(
        event([(1, 1, "take_action"), (2, 1, "be_aware"), (3, 2, "be_aware")], status="rejected")
    )
    assert {m.msg_type for m in messages} == {"Alert", "Update", "Cancel"}
    for message in messages:
        if message.alert_id is None:
            body = cap.render_cancel(message, sender="alerts@example.org")
        else:
            alert = replace(make_alert(), alert_id=message.alert_id, level=message.level)
            body = cap.render_cap(alert, sender="alerts@example.org", message=message)
        document = etree.fromstring(body)
        assert XSD.validate(document), (message, XSD.error_log)


def test_the_sender_must_be_configured_in_production() -> None:
    with pytest.raises(ValueError, match="CAP_SENDER must be set in production"):
        Settings(environment="production", quakeml_authority="org.example")
    with pytest.raises(ValueError, match="QUAKEML_AUTHORITY must be set in production"):
        Settings(environment="production", cap_sender="alerts@example.org")
    ok = Settings(
        environment="production", cap_sender="alerts@example.org", quakeml_authority="org.example"
    )
    assert ok.cap_sender == "alerts@example.org"
    with pytest.raises(ValueError, match="CAP_SENDER"):
        Settings(cap_sender="two words")
    with pytest.raises(ValueError, match="ENVIRONMENT"):
        Settings(environment="staging")
