"""Registering phones and authenticating them by token.

A token is ``<device uuid>.<secret>``: the id locates the row by primary key, the 256-bit random
secret is compared against its SHA-256 digest. A fast hash is right here because the secret is
machine-generated and high-entropy (argon2 is for human passwords: see ``operators``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdquake.domain.params import DetectionParams
from crowdquake.domain.trust import device_trust
from crowdquake.services.errors import Forbidden, ServiceError, Unauthorized
from crowdquake.storage.models import Device, EventTrigger, Trigger

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


def network_prefix(address: str | None) -> str | None:
    """The coarsened network of a client address: /24 for IPv4, /48 for IPv6.

    >>> network_prefix("203.0.113.77"), network_prefix("2001:db8:1:2::5"), network_prefix("x")
    ('203.0.113.0/24', '2001:db8:1::/48', None)
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def register_device(
    session: Session,
    *,
    platform: str,
    app_version: str,
    model_version: str,
    now: datetime,
    client_address: str | None = None,
    trusted: bool = False,
    heartbeat_days: int = 0,
) -> RegisteredDevice:
    """Create a device and return its token; the token is not recoverable afterwards.

    A new device starts with trust 0 (probation, ``domain.trust``) unless ``trusted`` (a
    deployment that vets its phones, ``CROWDQUAKE_TRUST_ALL_DEVICES``). ``client_address`` is
    kept only as its coarsened network prefix. ``heartbeat_days`` seeds the heartbeat history
    (replays of recorded networks, whose phones are established).
    """
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
            reputation=1.0 if trusted else 0.0,
            network_prefix=network_prefix(client_address),
            heartbeat_days=heartbeat_days,
            n_agree=0,
            n_disagree=0,
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


def authenticate_devices(
    session: Session, tokens: Sequence[str | None]
) -> list[AuthenticatedDevice | ServiceError]:
    """``authenticate_device`` for many tokens with one read (the stream server resolves a wave
    of opening streams in batches): per token, the device or the error it would raise."""
    parsed: list[tuple[uuid.UUID, str] | ServiceError] = []
    for token in tokens:
        if not token:
            parsed.append(Unauthorized("missing bearer token"))
            continue
        device_part, _, secret = token.partition(".")
        try:
            parsed.append((uuid.UUID(device_part), secret))
        except ValueError:
            parsed.append(Unauthorized("malformed token"))
    ids = [p[0] for p in parsed if isinstance(p, tuple)]
    # Columns, not ORM objects: a wave of thousands of openings should not build them.
    columns = select(Device.id, Device.token_hash, Device.status, Device.model_version)
    found = (
        {row.id: row for row in session.execute(columns.where(Device.id.in_(ids)))} if ids else {}
    )
    results: list[AuthenticatedDevice | ServiceError] = []
    for item in parsed:
        if not isinstance(item, tuple):
            results.append(item)
            continue
        device = found.get(item[0])
        secret = item[1]
        if (
            device is None
            or not secret
            or not hmac.compare_digest(device.token_hash, _digest(secret))
        ):
            results.append(Unauthorized("invalid token"))
        elif device.status != "active":
            results.append(Forbidden(f"device is {device.status}"))
        else:
            results.append(
                AuthenticatedDevice(device_id=device.id, model_version=device.model_version)
            )
    return results


def set_device_status(session: Session, device_id: uuid.UUID, status: str) -> None:
    """Block or re-activate a device (operators, abuse handling)."""
    device = session.get(Device, device_id)
    if device is None:
        raise ValueError(f"no device {device_id}")
    device.status = status
    session.flush()


def update_reputation(
    device: Device, now: datetime, params: DetectionParams, *, trust_all: bool = False
) -> float:
    """A heartbeat: count today as a heartbeat day and recompute the reputation."""
    today = now.date()
    if device.last_heartbeat_day != today:
        device.last_heartbeat_day = today
        device.heartbeat_days = (device.heartbeat_days or 0) + 1
    return recompute_reputation(device, now, params, trust_all=trust_all)


def recompute_reputation(
    device: Device, now: datetime, params: DetectionParams, *, trust_all: bool = False
) -> float:
    """``devices.reputation`` = ``domain.trust.device_trust`` of the device's history."""
    if trust_all:
        device.reputation = 1.0
        return 1.0
    age_days = max((now - device.created_at).total_seconds(), 0.0) / 86400.0
    device.reputation = device_trust(
        age_days,
        float(device.heartbeat_days or 0),
        device.n_agree or 0,
        device.n_disagree or 0,
        probation_days=params.probation_days,
        full_age_days=params.trust_full_age_days,
        full_heartbeat_days=params.trust_full_heartbeat_days,
    )
    return device.reputation


def settle_event_devices(
    session: Session, event_id: uuid.UUID, *, agree: bool, params: DetectionParams, now: datetime
) -> int:
    """An operator settled an event: every device with a trigger in it agreed (confirmed
    event) or disagreed (rejected event) once more; their reputation is recomputed.
    Returns the number of devices updated."""
    device_ids = set(
        session.scalars(
            select(Trigger.device_id)
            .join(EventTrigger, EventTrigger.trigger_id == Trigger.id)
            .where(EventTrigger.event_id == event_id)
        )
    )
    for device in session.scalars(select(Device).where(Device.id.in_(device_ids))):
        if agree:
            device.n_agree = (device.n_agree or 0) + 1
        else:
            device.n_disagree = (device.n_disagree or 0) + 1
        recompute_reputation(device, now, params)
    session.flush()
    return len(device_ids)


def forget_network_prefixes(session: Session, now: datetime, retention_days: float) -> int:
    """Clear the network prefix of devices registered more than ``retention_days`` ago."""
    result = session.execute(
        update(Device)
        .where(
            Device.network_prefix.is_not(None),
            Device.created_at < now - timedelta(days=retention_days),
        )
        .values(network_prefix=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
