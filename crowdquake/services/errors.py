"""Errors a use case can raise; the web edge maps each to an RFC 7807 problem."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: ``field`` is a dotted path such as ``triggers[2].latitude``."""

    field: str
    message: str
    type: str = "value_error"


class ServiceError(Exception):
    """Base class: ``status`` is the HTTP status the edge should answer with."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class InvalidInput(ServiceError):
    status = 422
    title = "Unprocessable content"


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


@dataclass(frozen=True, slots=True)
class RateLimited(Exception):
    retry_after_s: int
    detail: str = field(default="rate limit exceeded")
