"""Registering phones and authenticating them by token.

A token is ``<device uuid>.<secret>``: the id locates the row by primary key, the 256-bit random
secret is compared against its SHA-256 digest. A fast hash is right here because the secret is
machine-generated and high-entropy (argon2 is for human passwords: see ``operators``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crowdquake.services.errors import Forbidden, Unauthorized
from crowdquake.storage.models import Device

PLATFORMS = ("android", "ios", "other")


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    device_id: uuid.UUID
    token: str


@dataclass(frozen=True, slots=True)
class AuthenticatedDevice:
    device_id: uuid.UUID
    model_version: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def register_device(
    session: Session, *, platform: str, app_version: str, model_version: str, now: datetime
) -> RegisteredDevice:
    """Create a device and return its token; the token is not recoverable afterwards."""
    device_id = uuid.uuid4()
    secret = secrets.token_urlsafe(32)
    session.add(
        Device(
            id=device_id,
            token_hash=_digest(secret),
            platform=platform,
            app_version=app_version,
            model_version=model_version,
            created_at=now,
            status="active",
            reputation=1.0,
        )
    )
    session.flush()
    return RegisteredDevice(device_id=device_id, token=f"{device_id}.{secret}")


def authenticate_device(session: Session, token: str | None) -> AuthenticatedDevice:
    """Resolve a bearer token to an active device, or raise Unauthorized / Forbidden."""
    if not token:
        raise Unauthorized("missing bearer token")
    device_part, _, secret = token.partition(".")
    try:
        device_id = uuid.UUID(device_part)
    except ValueError:
        raise Unauthorized("malformed token") from None
    device = session.get(Device, device_id)
    if device is None or not secret or not hmac.compare_digest(device.token_hash, _digest(secret)):
        raise Unauthorized("invalid token")
    if device.status != "active":
        raise Forbidden(f"device is {device.status}")
    return AuthenticatedDevice(device_id=device.id, model_version=device.model_version)


def set_device_status(session: Session, device_id: uuid.UUID, status: str) -> None:
    """Block or re-activate a device (operators, abuse handling)."""
    device = session.get(Device, device_id)
    if device is None:
        raise ValueError(f"no device {device_id}")
    device.status = status
    session.flush()
