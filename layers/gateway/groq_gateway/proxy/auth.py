"""Gateway-key authentication for the proxy, served from a short-lived cache.

The cache holds the key record (never the plaintext); the secret presented by the client is
checked against the record's hashes on every request, in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

import anyio.to_thread

from groq_gateway.cache import TTLCache
from groq_gateway.errors import invalid_api_key, service_unavailable
from groq_gateway.keys import GATEWAY_KEY_PREFIX, bearer_token, hash_secret, parse_key
from groq_gateway.models import GatewayKey, utcnow
from groq_gateway.store import GatewayStore, StoreUnavailableError


class KeyAuthenticator:
    def __init__(
        self,
        store: GatewayStore,
        cache_seconds: float,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._cache: TTLCache[str, GatewayKey | None] = TTLCache(ttl=cache_seconds)
        self._now = now

    async def authenticate(self, authorization: str | None) -> GatewayKey:
        """The key behind an ``Authorization`` header, or a 401 :class:`GatewayError`."""
        token = bearer_token(authorization)
        parsed = parse_key(token, GATEWAY_KEY_PREFIX) if token else None
        if parsed is None:
            raise invalid_api_key()
        key = await self._load(parsed.key_id)
        if key is None:
            raise invalid_api_key()
        now = self._now()
        presented = hash_secret(parsed.key_id, parsed.secret)
        matches = any(
            hmac.compare_digest(presented, version.secret_hash) and version.usable_at(now)
            for version in key.secrets
        )
        if not matches or not key.is_usable_at(now):
            raise invalid_api_key()
        return key

    async def _load(self, key_id: str) -> GatewayKey | None:
        fresh, key = self._cache.get(key_id)
        if fresh:
            return key
        try:
            key = await anyio.to_thread.run_sync(self._store.keys.get, key_id)
        except StoreUnavailableError as error:
            raise service_unavailable(
                "The gateway cannot check keys right now; nothing was forwarded."
            ) from error
        self._cache.put(key_id, key)
        return key
