"""The published catalogue as read from the tables: order, offset and limit in SQL, the
evaluation mode from event audit rows, revisions when asked, and the size guard that stops a
too-large selection before anything else is read."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from crowdquake.services.catalog import CatalogQuery, TooManyEvents, published_events
from crowdquake.storage.catalog import EventFilter
from crowdquake.storage.models import AuditLog
from tests.factories import Quake, add_quake


def _seed(session: Session, now: datetime) -> None:
    for i in range(5):
        add_quake(
            session,
            Quake(f"cqread{i}", now - timedelta(hours=i), 10.0 + i, 20.0, 10.0, 3.0 + 0.5 * i),
        )
    add_quake(
        session, Quake("cqreadrev", now - timedelta(hours=9), 0.0, 0.0, 5.0, 2.0, revisions=3)
    )
    # An operator acted on cqread1; a device audit row that happens to carry cqread2 as its
    # target does not make that event reviewed.
    for target_type, target_id in (("event", "cqread1"), ("device", "cqread2")):
        session.add(
            AuditLog(
                at=now,
                actor="op",
                action="event.confirm",
                target_type=target_type,
                target_id=target_id,
                details={},
            )
        )
    session.flush()


def test_page_order_review_and_revisions(session: Session, now: datetime) -> None:
    _seed(session, now)
    page = published_events(
        session, CatalogQuery(filter=EventFilter(), order="time", limit=2, offset=1)
    )
    assert [e.public_id for e in page] == ["cqread1", "cqread2"]
    assert [e.reviewed for e in page] == [True, False]
    assert [e.evaluation_mode for e in page] == ["manual", "automatic"]
    assert page[0].preferred.magnitude == pytest.approx(3.5)
    assert page[0].origins == ()

    by_magnitude = published_events(session, CatalogQuery(order="magnitude", limit=1))
    assert by_magnitude[0].public_id == "cqread4"

    (one,) = published_events(
        session, CatalogQuery(filter=EventFilter(public_id="cqreadrev"), revisions=True)
    )
    assert [o.version for o in one.origins] == [1, 2, 3]
    assert one.preferred.version == 3 and one.preferred.lat_deg == pytest.approx(0.0)
    assert one.origins[0].lat_deg == pytest.approx(-0.02)


def test_size_guard(session: Session, now: datetime) -> None:
    _seed(session, now)
    assert len(published_events(session, CatalogQuery(limit=7, max_events=6))) == 6
    with pytest.raises(TooManyEvents):
        published_events(session, CatalogQuery(limit=6, max_events=5))


def test_rows_unpack_by_position() -> None:
    """published_events unpacks rows by position: the column orders must match."""
    from dataclasses import fields

    from crowdquake.services.catalog import Origin
    from crowdquake.storage.catalog import EVENT_COLUMNS, REVISION_COLUMNS

    assert [c.key for c in REVISION_COLUMNS] == [f.name for f in fields(Origin)]
    assert [c.key for c in EVENT_COLUMNS] == [
        "event_id",
        "public_id",
        "status",
        "event_created_at",
        "event_updated_at",
        "reviewed",
    ]
