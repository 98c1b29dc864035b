from __future__ import annotations

from groq_gateway.proxy.ttl_cache import TTLCache


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


def test_older_than_tells_the_age_of_fresh_and_expired_entries() -> None:
    clock = FakeClock()
    cache: TTLCache[str, int] = TTLCache(ttl=5.0, clock=clock)
    assert not cache.older_than("a", 0)
    cache.put("a", 1)
    clock.now = 2.4
    assert not cache.older_than("a", 2.5)
    clock.now = 2.5
    assert cache.older_than("a", 2.5)
    assert cache.get("a") == (True, 1)  # still fresh: older_than does not expire anything
