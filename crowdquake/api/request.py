"""Parsing and guarding requests: body to pydantic model, bearer token, rate limit."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from crowdquake.api.problems import MalformedBody
from crowdquake.services.devices import AuthenticatedDevice, authenticate_device
from crowdquake.services.errors import RateLimited
from crowdquake.web import container, get_session

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate the JSON body: not JSON at all -> 400, JSON that breaks the schema -> 422."""
    raw = request.get_data(cache=False)  # werkzeug raises 413 past MAX_CONTENT_LENGTH
    try:
        return model.model_validate_json(raw, context=context)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise MalformedBody("request body is not valid JSON") from None
        raise


def authenticated_device() -> AuthenticatedDevice:
    """The device of the bearer token, after counting the request against its rate limit."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw_token = header.partition(" ")
    token = raw_token.strip() if scheme.lower() == "bearer" else None
    cache = container().auth_cache
    device = cache.get(token) if token else None
    if device is None:
        device = authenticate_device(get_session(), token)
        cache.put(token or "", device)
    enforce_rate_limit(f"device:{device.device_id}")
    return device


def enforce_rate_limit(key: str, limit: int | None = None) -> None:
    services = container()
    retry_after = services.rate_limiter.hit(key, limit or services.settings.rate_limit_per_minute)
    if retry_after is not None:
        raise RateLimited(retry_after_s=retry_after)
