"""A small, bounded, time-limited cache for records read on the hot path."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries expire ``ttl`` seconds after they were loaded, absent records included (so a
    flood of unknown keys is not a flood of reads); ``ttl`` bounds how stale a record can be
    on any instance, so a revocation reaches every instance within it.

    Example::

        cache: TTLCache[str, GatewayKey | None] = TTLCache(ttl=5.0, max_entries=10_000)
        fresh, key = cache.get(key_id)
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a fresh entry, else ``(False, None)``."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        loaded_at, value = entry
        if self._clock() - loaded_at >= self.ttl:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, value

    def older_than(self, key: K, seconds: float) -> bool:
        """Whether ``key`` has an entry (fresh or not) loaded at least ``seconds`` ago."""
        entry = self._entries.get(key)
        return entry is not None and self._clock() - entry[0] >= seconds

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
