"""Small ports the use cases depend on, with their production implementations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall clock in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told; replays and tests move it explicitly."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class TriggerSink(Protocol):
    """Receives the region keys of triggers after their transaction committed."""

    def triggers_committed(self, region_keys: Iterable[str]) -> None: ...


class NullTriggerSink:
    """Hand-off used until a detection pipeline is configured: does nothing."""

    def triggers_committed(self, region_keys: Iterable[str]) -> None:
        return None
