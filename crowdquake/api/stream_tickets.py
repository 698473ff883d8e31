"""Stream tickets: the API authenticates a device, the stream server trusts a signed ticket.

``GET /api/v1/alerts/stream`` on the API answers 307 to the stream server with
``?ticket=<device id>.<expiry unix s>.<HMAC-SHA256 hex>`` (key: ``CROWDQUAKE_SECRET_KEY``), because
clients drop the Authorization header on a redirect to another origin (another port). A ticket
only opens an alert stream of that device and expires after ``TICKET_TTL_S``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

TICKET_TTL_S = 60


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), b"stream-ticket:" + message.encode(), hashlib.sha256).hexdigest()


def issue(key: str, device_id: uuid.UUID, now_s: float | None = None) -> str:
    expiry = int((time.time() if now_s is None else now_s) + TICKET_TTL_S)
    message = f"{device_id}.{expiry}"
    return f"{message}.{_mac(key, message)}"


def verify(key: str, ticket: str, now_s: float | None = None) -> uuid.UUID | None:
    """The device id of a valid, unexpired ticket; None otherwise."""
    parts = ticket.split(".")
    if len(parts) != 3:
        return None
    device, expiry, mac = parts
    if not hmac.compare_digest(mac, _mac(key, f"{device}.{expiry}")):
        return None
    try:
        if int(expiry) < (time.time() if now_s is None else now_s):
            return None
        return uuid.UUID(device)
    except ValueError:
        return None
