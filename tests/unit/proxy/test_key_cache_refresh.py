"""The proxy's key cache: a key in steady use is read again after responses, never before
its request goes upstream; a key idle for a whole cache life is read on the way in."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import GatewayKey, KeyStatus
from groq_gateway.proxy.after_response import AfterResponse
from groq_gateway.proxy.auth import KeyAuthenticator
from groq_gateway.store import StoreUnavailableError
from tests.integration.test_store import new_key_with_plaintext

pytestmark = pytest.mark.anyio

LIFE = 5.0  # seconds a cached record lives


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingKeys:
    def __init__(self, key: GatewayKey) -> None:
        self.key = key
        self.reads = 0
        self.fail = False

    def get(self, key_id: str) -> GatewayKey | None:
        self.reads += 1
        if self.fail:
            raise StoreUnavailableError("table unreachable")
        return self.key if key_id == self.key.key_id else None


@dataclass
class Fixture:
    key: GatewayKey
    keys: CountingKeys
    auth: KeyAuthenticator
    clock: Clock
    header: str

    async def authenticate(self, later: AfterResponse | None = None) -> None:
        await self.auth.authenticate(self.header, later or AfterResponse())


def fixture() -> Fixture:
    key, plaintext = new_key_with_plaintext()
    keys, clock = CountingKeys(key), Clock()
    store: Any = SimpleNamespace(keys=keys, teams=SimpleNamespace(get=lambda team_id: None))
    auth = KeyAuthenticator(store, cache_seconds=LIFE, clock=clock)
    return Fixture(key, keys, auth, clock, f"Bearer {plaintext}")


async def test_a_key_in_steady_use_is_read_again_only_after_responses() -> None:
    f = fixture()
    await f.authenticate()
    assert f.keys.reads == 1  # a cold cache: read on the way in

    f.clock.now += LIFE * 0.4  # not yet half its life: nothing to refresh
    later = AfterResponse()
    await f.authenticate(later)
    await later.run()
    assert f.keys.reads == 1

    f.clock.now += LIFE * 0.2  # past half its life, not past its whole life
    later = AfterResponse()
    await f.authenticate(later)
    assert f.keys.reads == 1  # nothing read before the request would go upstream
    again = AfterResponse()
    await f.authenticate(again)
    await later.run()
    assert f.keys.reads == 2  # read after the response ...
    await again.run()
    assert f.keys.reads == 2  # ... once, however many requests asked meanwhile

    # The refreshed record is what the next requests see: a revocation arrives this way.
    f.keys.key = f.key.model_copy(update={"status": KeyStatus.REVOKED})
    f.clock.now += LIFE * 0.6
    later = AfterResponse()
    await f.authenticate(later)  # still the cached, active record
    await later.run()
    with pytest.raises(GatewayError) as refused:
        await f.authenticate()
    assert refused.value.code == "invalid_api_key"
    assert f.keys.reads == 3


async def test_an_idle_key_is_read_on_the_way_in_and_a_failed_refresh_is_harmless() -> None:
    f = fixture()
    await f.authenticate()
    f.clock.now += LIFE * 0.6
    f.keys.fail = True
    later = AfterResponse()
    await f.authenticate(later)
    await later.run()  # the refresh fails: logged, the entry stays until it expires
    assert f.keys.reads == 2
    f.keys.fail = False
    await f.authenticate()
    assert f.keys.reads == 2  # still the cached record
    f.clock.now += LIFE
    await f.authenticate()
    assert f.keys.reads == 3  # a whole life idle: read on the way in


# -- issue #18, finding 16: unknown key ids are cached too -------------------------------------


def made_up_key() -> str:
    _, plaintext = new_key_with_plaintext()  # well formed, stored nowhere
    return f"Bearer {plaintext}"


async def test_an_unknown_key_id_costs_one_read_per_cache_life() -> None:
    f = fixture()
    stranger = made_up_key()
    for _ in range(3):
        with pytest.raises(GatewayError) as refused:
            await f.auth.authenticate(stranger, AfterResponse())
        assert refused.value.code == "invalid_api_key"
    assert f.keys.reads == 1  # was 2 on the first call, and 1 a second after
    f.clock.now += LIFE * 0.9
    with pytest.raises(GatewayError):
        await f.auth.authenticate(stranger, AfterResponse())
    assert f.keys.reads == 1
    f.clock.now += LIFE * 0.1
    with pytest.raises(GatewayError):
        await f.auth.authenticate(stranger, AfterResponse())
    assert f.keys.reads == 2  # its life over: read again


async def test_a_key_created_after_its_id_was_unknown_works_within_the_cache_life() -> None:
    key, plaintext = new_key_with_plaintext()
    keys, clock = CountingKeys(key), Clock()
    keys.key = key.model_copy(update={"key_id": "someone-else"})  # not created yet
    store: Any = SimpleNamespace(keys=keys, teams=SimpleNamespace(get=lambda team_id: None))
    auth = KeyAuthenticator(store, cache_seconds=LIFE, clock=clock)
    with pytest.raises(GatewayError):
        await auth.authenticate(f"Bearer {plaintext}")
    keys.key = key  # created now
    clock.now += LIFE
    await auth.authenticate(f"Bearer {plaintext}")


async def test_a_flood_of_made_up_ids_does_not_push_real_keys_out_of_the_cache() -> None:
    f = fixture()
    await f.authenticate()
    strangers = [made_up_key() for _ in range(10_001)]  # more than the cache holds
    for stranger in strangers:
        with pytest.raises(GatewayError):
            await f.auth.authenticate(stranger)
    f.keys.reads = 0
    await f.authenticate()
    assert f.keys.reads == 0
