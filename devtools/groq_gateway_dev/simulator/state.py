"""Mutable state of a running simulator: rate-limit buckets and queued faults."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenBucket:
    """An allowance of `capacity` per `period` seconds, refilled continuously.

    This is what Groq's headers describe: `remaining` is what is left now and
    `reset` the time until the allowance is full again.
    """

    capacity: int
    period: float
    used: float = 0.0
    updated: float = field(default_factory=time.monotonic)

    def _refill(self) -> None:
        now = time.monotonic()
        self.used = max(0.0, self.used - (now - self.updated) * self.capacity / self.period)
        self.updated = now

    def remaining(self) -> int:
        self._refill()
        return max(0, int(self.capacity - self.used))

    def reset_after(self) -> float:
        """Seconds until the allowance is full again."""
        self._refill()
        return self.used * self.period / self.capacity

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` can be taken (0 when it can be taken now)."""
        self._refill()
        return max(0.0, (self.used + amount - self.capacity) * self.period / self.capacity)

    def take(self, amount: float) -> None:
        self._refill()
        self.used += amount


@dataclass(frozen=True)
class Fault:
    """One queued misbehaviour, taken by the next matching `/openai/v1` request."""

    status: int | None = None
    retry_after: float | None = None
    cut_stream_after_chunks: int | None = None
    delay_ms: float | None = None

    @property
    def streams_only(self) -> bool:
        """A cut without a status waits for the next streamed response."""
        return self.status is None and self.cut_stream_after_chunks is not None

    @classmethod
    def parse(cls, data: Any) -> list[Fault]:
        """The faults a `POST /_simulator/faults` body asks for (raises `ValueError`)."""
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        count = _integer(data, "count")
        fault = cls(
            status=_integer(data, "status"),
            retry_after=_number(data, "retry_after"),
            cut_stream_after_chunks=_integer(data, "cut_stream_after_chunks"),
            delay_ms=_number(data, "delay_ms"),
        )
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if fault == cls():
            raise ValueError("give at least one of status, cut_stream_after_chunks, delay_ms")
        return [fault] * (1 if count is None else count)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "retry_after": self.retry_after,
            "cut_stream_after_chunks": self.cut_stream_after_chunks,
            "delay_ms": self.delay_ms,
        }


def _number(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number or null")
    return float(value)


def _integer(data: dict[str, Any], name: str) -> int | None:
    value = _number(data, name)
    if value is not None and not value.is_integer():
        raise ValueError(f"{name} must be an integer")
    return None if value is None else int(value)
