"""Parsing and guarding requests: body to pydantic model, bearer token, rate limit.

The validation rules of a request body live here and in ``schemas`` and nowhere else. The
framework-free functions (``require_json``, ``validate_json``, ``trigger_context``,
``parse_trigger``, ``parse_trigger_batch``, ``bearer_token``, ``device_of_token``,
``check_rate_limit``) take bytes, headers, a session and "now", and raise a
``ServiceError`` (``MalformedBody`` 400, ``UnsupportedMediaType`` 415, ``InvalidInput`` 422) whose
status, title, detail and field errors render as problem+json (``problems.problem_document``),
so a lean WSGI hot path enforces exactly what the Flask views enforce.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from crowdquake.api import schemas
from crowdquake.api.problems import MalformedBody, UnsupportedMediaType, field_errors
from crowdquake.api.ratelimit import RateLimiter
from crowdquake.config import Settings
from crowdquake.services.devices import AuthenticatedDevice, authenticate_device
from crowdquake.services.errors import FieldError, InvalidInput, RateLimited
from crowdquake.web import container, get_session

M = TypeVar("M", bound=BaseModel)
JSON_MIME = "application/json"


def require_json(content_type: str | None) -> None:
    """415 unless the body is declared ``application/json`` (parameters such as charset allowed)."""
    mimetype = (content_type or "").partition(";")[0].strip().lower()
    if mimetype != JSON_MIME:
        shown = mimetype or "none"
        raise UnsupportedMediaType(f"Content-Type must be {JSON_MIME} (got {shown})")


def validate_json(model: type[M], raw: bytes, context: dict[str, Any] | None = None) -> M:
    """Not JSON at all -> 400 ``MalformedBody``; JSON that breaks the schema -> 422 ``InvalidInput``
    with one field error per violation."""
    try:
        return model.model_validate_json(raw, context=context)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise MalformedBody("request body is not valid JSON") from None
        raise InvalidInput(
            "the request body does not match the schema", field_errors(exc)
        ) from None


def trigger_context(settings: Settings, now: datetime) -> dict[str, Any]:
    """The validation context of trigger bodies: the acceptance window around ``now``."""
    return {
        "now": now,
        "max_future_skew_s": settings.max_future_skew_s,
        "max_age_s": settings.max_trigger_age_s,
        "max_batch": settings.max_batch_triggers,
    }


def parse_trigger(
    raw: bytes, content_type: str | None, settings: Settings, now: datetime
) -> schemas.TriggerIn:
    require_json(content_type)
    return validate_json(schemas.TriggerIn, raw, trigger_context(settings, now))


def parse_trigger_batch(
    raw: bytes, content_type: str | None, settings: Settings, now: datetime
) -> schemas.TriggerBatchIn:
    require_json(content_type)
    return validate_json(schemas.TriggerBatchIn, raw, trigger_context(settings, now))


def query_time(name: str, raw: str) -> datetime:
    """An ISO 8601 query-string time with a zone, in UTC; anything else is a 422 naming ``name``
    (including times that exist only in another zone, such as 9999-12-31T23:59:59-01:00)."""

    def invalid(message: str) -> InvalidInput:
        return InvalidInput("invalid query", (FieldError(name, message, "datetime_parsing"),))

    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise invalid("expected an ISO 8601 time") from None
    if value.tzinfo is None:
        raise invalid("a time zone is required")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise invalid("outside the representable range of UTC times") from None


def parse_body(model: type[M], context: dict[str, Any] | None = None) -> M:
    """The current Flask request's body as ``model`` (415 before the body is read)."""
    require_json(request.content_type)
    raw = request.get_data(cache=False)  # werkzeug raises 413 past MAX_CONTENT_LENGTH
    return validate_json(model, raw, context)


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    scheme, _, raw_token = authorization.partition(" ")
    return raw_token.strip() if scheme.lower() == "bearer" else None


def device_of_token(token: str | None, cache: Any, session: Session) -> AuthenticatedDevice:
    """The device of ``token`` from the per-process cache, else from the database (401 if none)."""
    device = cache.get(token) if token else None
    if device is None:
        device = authenticate_device(session, token)
        cache.put(token or "", device)
    return device


def check_rate_limit(limiter: RateLimiter, key: str, limit: int) -> None:
    """429 (``RateLimited``) once ``key`` has used its ``limit`` requests of the window."""
    retry_after = limiter.hit(key, limit)
    if retry_after is not None:
        raise RateLimited(retry_after_s=retry_after)


def authenticated_device() -> AuthenticatedDevice:
    """The device of the bearer token, after counting the request against its rate limit."""
    token = bearer_token(request.headers.get("Authorization", ""))
    device = device_of_token(token, container().auth_cache, get_session())
    enforce_rate_limit(f"device:{device.device_id}")
    return device


def enforce_rate_limit(key: str, limit: int | None = None) -> None:
    services = container()
    check_rate_limit(services.rate_limiter, key, limit or services.settings.rate_limit_per_minute)
