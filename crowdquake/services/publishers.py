"""Outbound alert publishing: the AlertPublisher port, a signed webhook, and delivery bookkeeping.

``deliver`` sends one alert to one target at most once successfully: the ``alert_deliveries`` row
(unique per alert/target) is claimed with a row lock, a delivered or dead row is never sent again,
and each failure schedules the next attempt with exponential backoff (base * 2^(attempt-1), capped)
until the last allowed attempt marks the row ``dead`` with the last error (the dead letter).
A worker crash after the receiver answered but before the commit re-sends with the same
``webhook-id``: receivers deduplicate on it (at-least-once delivery).

Webhooks are signed the Standard Webhooks way (standardwebhooks.com, v1 symmetric): headers
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64
HMAC-SHA256 of "<id>.<timestamp>.<body>">``. The id and the time are signed with the body, so a
captured delivery cannot be replayed later or under another id: receivers reject timestamps more
than ``TOLERANCE_S`` away from their clock and ids they have already processed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdquake.services.alerts import alert_document, get_issued_alert
from crowdquake.services.errors import NotFound
from crowdquake.storage.models import AlertDelivery
from crowdquake.storage.queries import insert_ignoring_duplicates

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_S = 300
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BASE_BACKOFF_S = 1.0
DEFAULT_MAX_BACKOFF_S = 300.0
MAX_ERROR_CHARS = 2000


class PublishError(Exception):
    """The target did not accept the alert (network error, timeout or non-2xx answer)."""


class AlertPublisher(Protocol):
    def publish(self, alert_payload: dict[str, Any]) -> None:
        """Send the payload or raise PublishError. ``alert_payload["delivery_id"]`` identifies
        the delivery across retries."""


def webhook_target(url: str) -> str:
    """The ``alert_deliveries.target`` name of the webhook at ``url``."""
    return f"webhook:{url}"[:255]


def secret_key(secret: str) -> bytes:
    """The HMAC key: a Standard Webhooks secret ``whsec_<base64>`` is the decoded bytes; any
    other configured secret is used as its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``.

    The example of the Standard Webhooks specification (secret
    ``whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw``, id ``msg_p5jXN8AQM9LWM0D4loKWxJek``,
    timestamp 1614265330, body ``{"test": 2432232314}``):

    >>> sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}',
    ...      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    """
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now_s: float,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    """What a receiver does before trusting a delivery (the example in docs/alerts.md):
    the timestamp is recent and one of the ``v1`` signatures matches."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lower[ID_HEADER]
        timestamp = int(lower[TIMESTAMP_HEADER])
        offered = lower[SIGNATURE_HEADER].split()
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = sign(msg_id, timestamp, body, secret)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


class WebhookPublisher:
    """POSTs the alert as JSON, signed the Standard Webhooks way (``webhook-id`` is the delivery
    id, the same on every retry). Only 2xx is success; redirects are not followed (a moved
    endpoint must be reconfigured, not guessed)."""

    def __init__(
        self,
        url: str,
        secret: str,
        timeout_s: float = 5.0,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self.clock_s = clock_s

    def publish(self, alert_payload: dict[str, Any]) -> None:
        body = json.dumps(alert_payload, separators=(",", ":"), sort_keys=True).encode()
        msg_id = f"delivery_{alert_payload.get('delivery_id', '')}"
        timestamp = int(self.clock_s())
        headers = {
            "Content-Type": "application/json",
            ID_HEADER: msg_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(msg_id, timestamp, body, self.secret),
            "User-Agent": "crowdquake-webhook/1",
        }
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise PublishError(f"HTTP {response.status_code} from {self.url}")


@dataclass
class RecordingPublisher:
    """Keeps what it was asked to publish; fails the first ``failures`` calls (tests, dry runs)."""

    failures: int = 0
    published: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0

    def publish(self, alert_payload: dict[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise PublishError(f"simulated failure {self.calls} of {self.failures}")
        self.published.append(alert_payload)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    delivery_id: int
    alert_id: int
    target: str
    status: str
    attempts: int
    attempted: bool
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_backoff_s: float = DEFAULT_BASE_BACKOFF_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S

    def backoff_s(self, attempts: int) -> float:
        """Delay after the ``attempts``-th failure: 1, 2, 4, 8 ... s for a 1 s base.

        >>> [RetryPolicy().backoff_s(n) for n in (1, 2, 3, 4)]
        [1.0, 2.0, 4.0, 8.0]
        """
        return min(self.base_backoff_s * 2.0 ** (attempts - 1), self.max_backoff_s)


def _outcome(row: AlertDelivery, attempted: bool) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=row.id,
        alert_id=row.alert_id,
        target=row.target,
        status=row.status,
        attempts=row.attempts,
        attempted=attempted,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
    )


def _claim(session: Session, alert_id: int, target: str, now: datetime) -> AlertDelivery:
    insert_ignoring_duplicates(
        session,
        AlertDelivery.__table__,  # type: ignore[arg-type]
        [
            {
                "alert_id": alert_id,
                "target": target,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "updated_at": now,
            }
        ],
    )
    # FOR UPDATE keeps two workers from sending the same delivery at once (PostgreSQL); SQLite
    # transactions already hold the database write lock (BEGIN IMMEDIATE, storage.session).
    row = session.scalars(
        select(AlertDelivery)
        .where(AlertDelivery.alert_id == alert_id, AlertDelivery.target == target)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row


def deliver(
    session: Session,
    alert_id: int,
    publisher: AlertPublisher,
    target: str,
    now: datetime,
    policy: RetryPolicy = RetryPolicy(),
) -> DeliveryOutcome | None:
    """Attempt the delivery of ``alert_id`` to ``target`` if it is due; never re-send a
    delivered one. None when the alert is gone or its event was withdrawn (rejected or
    cancelled): a pending delivery of it is then closed as dead instead of retried forever."""
    try:
        alert = get_issued_alert(session, alert_id)
    except NotFound:
        session.execute(
            update(AlertDelivery)
            .where(
                AlertDelivery.alert_id == alert_id,
                AlertDelivery.target == target,
                AlertDelivery.status == "pending",
            )
            .values(
                status="dead", last_error="alert withdrawn", next_attempt_at=None, updated_at=now
            )
        )
        return None
    row = _claim(session, alert_id, target, now)
    if row.status != "pending" or (row.next_attempt_at is not None and row.next_attempt_at > now):
        return _outcome(row, attempted=False)
    payload = {"delivery_id": str(row.id), "target": target, "alert": alert_document(alert)}
    row.attempts += 1
    row.updated_at = now
    try:
        publisher.publish(payload)
    except PublishError as exc:
        row.last_error = str(exc)[:MAX_ERROR_CHARS]
        if row.attempts >= policy.max_attempts:
            row.status = "dead"
            row.next_attempt_at = None
        else:
            row.next_attempt_at = now + timedelta(seconds=policy.backoff_s(row.attempts))
    else:
        row.status = "delivered"
        row.last_error = None
        row.next_attempt_at = None
    session.flush()
    return _outcome(row, attempted=True)


def due_deliveries(
    session: Session, now: datetime, targets: Sequence[str], limit: int = 100
) -> list[tuple[int, str]]:
    """(alert id, target) of pending deliveries to ``targets`` whose next attempt is due, most
    overdue first. Targets no longer configured are left alone (they may come back)."""
    rows = session.execute(
        select(AlertDelivery.alert_id, AlertDelivery.target)
        .where(
            AlertDelivery.status == "pending",
            AlertDelivery.next_attempt_at <= now,
            AlertDelivery.target.in_(targets),
        )
        .order_by(AlertDelivery.next_attempt_at)
        .limit(limit)
    )
    return [(r.alert_id, r.target) for r in rows]
