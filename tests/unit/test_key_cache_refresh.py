"""The proxy's key cache: a key in steady use is read again after responses, never before
its request goes upstream; a key idle for a whole cache life is read on the way in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from groq_gateway.errors import GatewayError
from groq_gateway.models import GatewayKey, KeyStatus
from groq_gateway.proxy.after_response import AfterResponse
from groq_gateway.proxy.auth import KeyAuthenticator
from groq_gateway.store import StoreUnavailableError
from tests.integration.test_store import new_key_with_plaintext

pytestmark = pytest.mark.anyio

LIFE = 0.4  # seconds a cached record lives


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


def authenticator(keys: CountingKeys) -> KeyAuthenticator:
    store: Any = SimpleNamespace(keys=keys, teams=SimpleNamespace(get=lambda team_id: None))
    return KeyAuthenticator(store, cache_seconds=LIFE)


async def test_a_key_in_steady_use_is_read_again_only_after_responses() -> None:
    key, plaintext = new_key_with_plaintext()
    keys = CountingKeys(key)
    auth = authenticator(keys)
    header = f"Bearer {plaintext}"

    await auth.authenticate(header, AfterResponse())
    assert keys.reads == 1  # a cold cache: read on the way in

    await anyio.sleep(LIFE * 0.6)  # past half its life, not past its whole life
    later = AfterResponse()
    await auth.authenticate(header, later)
    assert keys.reads == 1  # nothing read before the request would go upstream
    again = AfterResponse()
    await auth.authenticate(header, again)
    await later.run()
    assert keys.reads == 2  # read after the response ...
    await again.run()
    assert keys.reads == 2  # ... once, however many requests asked meanwhile

    # The refreshed record is what the next requests see: a revocation arrives this way.
    keys.key = key.model_copy(update={"status": KeyStatus.REVOKED})
    await anyio.sleep(LIFE * 0.6)
    later = AfterResponse()
    await auth.authenticate(header, later)  # still the cached, active record
    await later.run()
    with pytest.raises(GatewayError) as refused:
        await auth.authenticate(header, AfterResponse())
    assert refused.value.code == "invalid_api_key"
    assert keys.reads == 3


async def test_an_idle_key_is_read_on_the_way_in_and_a_failed_refresh_is_harmless() -> None:
    key, plaintext = new_key_with_plaintext()
    keys = CountingKeys(key)
    auth = authenticator(keys)
    header = f"Bearer {plaintext}"
    await auth.authenticate(header, AfterResponse())
    await anyio.sleep(LIFE * 0.6)
    keys.fail = True
    later = AfterResponse()
    await auth.authenticate(header, later)
    await later.run()  # the refresh fails: logged, the entry stays until it expires
    assert keys.reads == 2
    keys.fail = False
    await auth.authenticate(header, AfterResponse())
    assert keys.reads == 2  # still the cached record
    await anyio.sleep(LIFE)
    await auth.authenticate(header, AfterResponse())
    assert keys.reads == 3  # a whole life idle: read on the way in
