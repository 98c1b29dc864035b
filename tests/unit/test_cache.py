from __future__ import annotations

from groq_gateway.cache import TTLCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache: TTLCache[str, int | None] = TTLCache(ttl=5.0, clock=clock)
    cache.put("a", 1)
    cache.put("missing", None)
    clock.now = 4.9
    assert cache.get("a") == (True, 1)
    assert cache.get("missing") == (True, None)
    clock.now = 5.0
    assert cache.get("a") == (False, None)
    assert cache.get("missing") == (False, None)


def test_least_recently_used_entry_is_evicted_at_capacity() -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)
    cache.put("c", 3)
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, 1)
    assert len(cache) == 2


def test_invalidate_drops_the_entry() -> None:
    cache: TTLCache[str, int] = TTLCache(ttl=60)
    cache.put("a", 1)
    cache.invalidate("a")
    assert cache.get("a") == (False, None)
