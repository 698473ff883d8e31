"""Webhook publishing against a real local HTTP server, and delivery bookkeeping in SQL:
signature checked by the receiver, exponential backoff, dead letter, idempotency, the tasks."""

from __future__ import annotations

import doctest
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdquake.config import Settings
from crowdquake.services import publishers
from crowdquake.services.publishers import (
    PublishError,
    RecordingPublisher,
    RetryPolicy,
    WebhookPublisher,
    deliver,
    due_deliveries,
    sign,
    verify,
)
from crowdquake.storage import migrate
from crowdquake.storage.models import Alert, AlertDelivery, Event
from crowdquake.storage.session import make_engine, make_session_factory
from tests.factories import add_alert, add_quake, quake_now

SECRET = "hook-secret-for-tests"
TARGET = "webhook:test"


@dataclass
class Receiver:
    """What the local webhook endpoint answers and what it saw."""

    statuses: list[int] = field(default_factory=list)  # answers in turn; then 200
    delay_s: float = 0.0
    received: list[dict[str, object]] = field(default_factory=list)
    url: str = ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.received.append(
                {
                    "signature_ok": verify(dict(self.headers), raw, SECRET, time.time()),
                    "delivery": self.headers.get("webhook-id"),
                    "body": json.loads(raw),
                }
            )
            time.sleep(receiver.delay_s)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None  # keep test output clean

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.block_on_close = False  # a handler still sleeping (timeout test) must not hold us up
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def make_alert(session: Session, now: datetime, status: str = "confirmed") -> int:
    event = add_quake(session, quake_now(now, magnitude=5.4, status=status))
    return add_alert(session, event, now, [("872830828ffffff", 5.6, 5.0)]).id


def test_doctests() -> None:
    result = doctest.testmod(publishers)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("status", [200, 202, 204])
def test_webhook_2xx_is_success_and_signed(receiver: Receiver, status: int) -> None:
    receiver.statuses = [status]
    WebhookPublisher(receiver.url, SECRET, timeout_s=2.0).publish(
        {"delivery_id": "7", "alert": {"alert_id": 1}}
    )
    (seen,) = receiver.received
    assert seen == {
        "signature_ok": True,
        "delivery": "delivery_7",
        "body": {"delivery_id": "7", "alert": {"alert_id": 1}},
    }


@pytest.mark.parametrize("status", [301, 400, 410, 500, 503])
def test_webhook_other_status_is_failure(receiver: Receiver, status: int) -> None:
    receiver.statuses = [status]
    with pytest.raises(PublishError, match=f"HTTP {status}"):
        WebhookPublisher(receiver.url, SECRET, timeout_s=2.0).publish({"delivery_id": "1"})
    assert len(receiver.received) == 1  # a redirect is not followed


def test_webhook_timeout_and_refused_connection_are_failures(receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    started = time.monotonic()
    with pytest.raises(PublishError, match="Timeout"):
        WebhookPublisher(receiver.url, SECRET, timeout_s=0.2).publish({"delivery_id": "1"})
    assert time.monotonic() - started < 0.9
    with pytest.raises(PublishError, match="ConnectError"):
        WebhookPublisher("http://127.0.0.1:9/hook", SECRET, timeout_s=0.5).publish({})
    with pytest.raises(ValueError, match="http"):
        WebhookPublisher("file:///etc/passwd", SECRET)


def test_deliver_retries_with_backoff_until_delivered_then_never_resends(
    session: Session, now: datetime, receiver: Receiver
) -> None:
    alert_id = make_alert(session, now)
    receiver.statuses = [500, 503]
    hook = WebhookPublisher(receiver.url, SECRET, timeout_s=2.0)

    first = deliver(session, alert_id, hook, TARGET, now)
    assert first is not None and first.attempted
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.next_attempt_at == now + timedelta(seconds=1)
    assert first.last_error is not None and "HTTP 500" in first.last_error

    early = deliver(session, alert_id, hook, TARGET, now + timedelta(seconds=0.5))
    assert early is not None and not early.attempted and early.attempts == 1

    second = deliver(session, alert_id, hook, TARGET, now + timedelta(seconds=1))
    assert second is not None and (second.status, second.attempts) == ("pending", 2)
    assert second.next_attempt_at == now + timedelta(seconds=1 + 2)

    third = deliver(session, alert_id, hook, TARGET, now + timedelta(seconds=3))
    assert third is not None and (third.status, third.attempts) == ("delivered", 3)
    assert third.last_error is None and third.next_attempt_at is None

    again = deliver(session, alert_id, hook, TARGET, now + timedelta(seconds=60))
    assert again is not None and not again.attempted and again.status == "delivered"
    assert len(receiver.received) == 3, "a delivered alert is never sent again"
    assert all(r["signature_ok"] for r in receiver.received)
    # One delivery id across retries: receivers deduplicate on it.
    assert {r["delivery"] for r in receiver.received} == {f"delivery_{first.delivery_id}"}
    body = receiver.received[-1]["body"]
    assert isinstance(body, dict)
    assert body["alert"]["alert_id"] == alert_id and body["alert"]["magnitude"] == 5.4
    rows = session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert_id)).all()
    assert len(rows) == 1


def test_dead_letter_after_the_last_attempt(session: Session, now: datetime) -> None:
    alert_id = make_alert(session, now)
    failing = RecordingPublisher(failures=100)
    policy = RetryPolicy(max_attempts=4, base_backoff_s=1.0)
    at = now
    delays = []
    for _ in range(4):
        outcome = deliver(session, alert_id, failing, TARGET, at, policy)
        assert outcome is not None and outcome.attempted
        if outcome.next_attempt_at is not None:
            delays.append((outcome.next_attempt_at - at).total_seconds())
            at = outcome.next_attempt_at
    assert delays == [1.0, 2.0, 4.0]
    assert outcome.status == "dead" and outcome.attempts == 4
    assert outcome.last_error == "simulated failure 4 of 100"
    later = deliver(session, alert_id, failing, TARGET, at + timedelta(hours=1), policy)
    assert later is not None and not later.attempted and later.status == "dead"
    assert failing.calls == 4


def test_due_deliveries_and_withdrawn_alerts(session: Session, now: datetime) -> None:
    kept = make_alert(session, now)
    cancelled = make_alert(session, now)
    flaky = RecordingPublisher(failures=1)
    deliver(session, kept, flaky, TARGET, now)
    deliver(session, cancelled, RecordingPublisher(failures=1), TARGET, now)
    deliver(session, kept, RecordingPublisher(failures=1), "webhook:gone", now)
    assert due_deliveries(session, now, [TARGET]) == []
    later = now + timedelta(seconds=1)
    assert sorted(due_deliveries(session, later, [TARGET])) == sorted(
        [(kept, TARGET), (cancelled, TARGET)]
    )

    event = session.get(Alert, cancelled)
    assert event is not None
    session.get_one(Event, event.event_id).status = "cancelled"
    session.flush()
    assert deliver(session, cancelled, flaky, TARGET, later) is None
    row = session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == cancelled)).one()
    assert (row.status, row.last_error) == ("dead", "alert withdrawn")
    assert due_deliveries(session, later, [TARGET]) == [(kept, TARGET)]


def test_tasks_deliver_and_retry_through_a_real_database(
    tmp_path: Path, now: datetime, receiver: Receiver
) -> None:
    from crowdquake.tasks import delivery as delivery_tasks
    from crowdquake.tasks import make_celery

    url = f"sqlite:///{tmp_path / 'tasks.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    fresh = datetime.now(now.tzinfo)
    with factory() as session:
        alert_id = make_alert(session, fresh)
        session.commit()
    app = make_celery(
        Settings(
            database_url=url,
            instance_dir=str(tmp_path),
            broker_url="memory://",
            result_backend="cache+memory://",
            webhook_url=receiver.url,
            webhook_secret=SECRET,
            webhook_timeout_s=2.0,
        )
    )
    receiver.statuses = [500]
    target = f"webhook:{receiver.url}"

    result = app.tasks["crowdquake.alerts.deliver_alert"].apply(args=[alert_id]).get()
    assert result == {target: "pending"}
    time.sleep(1.05)  # the first backoff is 1 s of wall clock: the tasks read the real time
    assert app.tasks["crowdquake.alerts.retry_deliveries"].apply().get() == 1
    assert app.tasks["crowdquake.alerts.retry_deliveries"].apply().get() == 0
    again = app.tasks["crowdquake.alerts.deliver_alert"].apply(args=[alert_id]).get()
    assert again == {target: "delivered"}
    assert len(receiver.received) == 2 and all(r["signature_ok"] for r in receiver.received)
    with factory() as session:
        row = session.scalars(select(AlertDelivery)).one()
        assert (row.status, row.attempts) == ("delivered", 2)
    assert delivery_tasks.publishers_from_settings(Settings(instance_dir=str(tmp_path))) == {}
    app.crowdquake_runtime.engine.dispose()  # type: ignore[attr-defined]
    engine.dispose()


def test_standard_webhooks_signature_vector_and_verification() -> None:
    """The example of the Standard Webhooks specification, then what a receiver rejects."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, timestamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    signature = sign(msg_id, timestamp, body, secret)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,bm90LXRoaXMtb25l {signature}",  # rotated keys: any may match
    }
    assert verify(headers, body, secret, now_s=timestamp + 10)
    assert not verify(headers, body, secret, now_s=timestamp + 301)  # too old: a replay
    assert not verify(headers, body, secret, now_s=timestamp - 301)
    assert not verify(headers, body + b" ", secret, now_s=timestamp)
    assert not verify({**headers, "webhook-id": "msg_other"}, body, secret, now_s=timestamp)
    later = {**headers, "webhook-timestamp": str(timestamp + 100)}
    assert not verify(later, body, secret, now_s=timestamp + 100)  # timestamp is signed
    assert not verify({"webhook-id": msg_id}, body, secret, now_s=timestamp)
