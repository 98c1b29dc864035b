"""Gateway-key authentication for the proxy, with key and team records from a short cache.
See docs/architecture.md#request-flow-proxy.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import anyio.to_thread

from groq_gateway.core.errors import invalid_api_key, service_unavailable
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, bearer_token, hash_secret, parse_key
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import GatewayKey, KeyStatus, SecretVersion, Team
from groq_gateway.proxy.after_response import AfterResponse
from groq_gateway.proxy.policy import Principal, budget_paused
from groq_gateway.proxy.ttl_cache import TTLCache
from groq_gateway.store import GatewayStore, StoreUnavailableError

R = TypeVar("R")

# An unknown secret for a cached key makes the record be read again, at most this often.
REFRESH_INTERVAL_SECONDS = 1.0
# Key ids found in no record, remembered for the cache's life in a cache of their own, so a
# flood of made-up ids costs one read each and never pushes real keys out of the cache.
UNKNOWN_KEY_ENTRIES = 10_000


def _matching_secret(key: GatewayKey | None, presented: str, now: datetime) -> SecretVersion | None:
    if key is None:
        return None
    for version in key.secrets:
        if hmac.compare_digest(presented, version.secret_hash) and version.usable_at(now):
            return version
    return None


class KeyAuthenticator:
    """Checks the presented secret against the record's hashes, in constant time, on every
    request. The cache holds records (never plaintext), at most ``cache_seconds`` old; one past
    half its life is read again after the response, one past its whole life on the way in.
    An id with no record is remembered as unknown for ``cache_seconds`` too (a key created
    since works within that bound, as a revocation takes effect within it)."""

    def __init__(
        self,
        store: GatewayStore,
        cache_seconds: float,
        now: Callable[[], datetime] = utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh_after = cache_seconds / 2
        self._refreshing: set[str] = set()
        self._keys: TTLCache[str, GatewayKey | None] = TTLCache(ttl=cache_seconds, clock=clock)
        self._unknown: TTLCache[str, bool] = TTLCache(
            ttl=cache_seconds, max_entries=UNKNOWN_KEY_ENTRIES, clock=clock
        )
        self._teams: TTLCache[str, Team | None] = TTLCache(ttl=cache_seconds, clock=clock)
        self._now = now
        self._refreshed: TTLCache[str, bool] = TTLCache(ttl=REFRESH_INTERVAL_SECONDS, clock=clock)

    def _may_refresh(self, key_id: str) -> bool:
        recent, _ = self._refreshed.get(key_id)
        if recent:
            return False
        self._refreshed.put(key_id, True)
        return True

    async def authenticate(
        self, authorization: str | None, later: AfterResponse | None = None
    ) -> Principal:
        """The caller behind an ``Authorization`` header, or a 401 :class:`GatewayError`.
        Records past half their life are read again on ``later``, after the response."""
        token = bearer_token(authorization)
        parsed = parse_key(token, GATEWAY_KEY_PREFIX) if token else None
        if parsed is None:
            raise invalid_api_key()
        presented = hash_secret(parsed.key_id, parsed.secret)
        now = self._now()
        key, just_read = await self._key(parsed.key_id)
        secret = _matching_secret(key, presented, now)
        # A secret minted since the record was cached (a rotation a moment ago) must work at
        # once: read the record again, at most once a second per key (never one just read).
        stale = secret is None and key is not None and not just_read
        if stale and self._may_refresh(parsed.key_id):
            self._keys.invalidate(parsed.key_id)
            key, _ = await self._key(parsed.key_id)
            secret = _matching_secret(key, presented, now)
        if key is None or secret is None:
            raise invalid_api_key()
        if key.status is KeyStatus.PAUSED and key.paused_reason == "budget":
            raise budget_paused(f"Key `{key.name}`")
        if not key.is_usable_at(now):
            raise invalid_api_key()
        team = None
        if key.team_id:
            team = await self._cached(self._teams, key.team_id, self._store.teams.get)
            if team is None:
                raise invalid_api_key()
        if later is not None:
            self._refresh_later(later, self._keys, "key", key.key_id, self._store.keys.get)
            if key.team_id:
                self._refresh_later(later, self._teams, "team", key.team_id, self._store.teams.get)
        return Principal(key=key, team=team, secret=secret)

    def _refresh_later(
        self,
        later: AfterResponse,
        cache: TTLCache[str, R | None],
        kind: str,
        record_id: str,
        load: Callable[[str], R | None],
    ) -> None:
        """Read a record past half its life again after the response, once at a time."""
        token = f"{kind}#{record_id}"
        if token in self._refreshing or not cache.older_than(record_id, self._refresh_after):
            return
        self._refreshing.add(token)

        async def refresh() -> None:
            try:
                cache.put(record_id, await anyio.to_thread.run_sync(load, record_id))
            except StoreUnavailableError as error:
                # The entry stays until it expires; then the next request reads it.
                logger.warning("cache refresh failed", extra={"record": kind, "error": str(error)})
            finally:
                self._refreshing.discard(token)

        later.add(refresh)

    async def _key(self, key_id: str) -> tuple[GatewayKey | None, bool]:
        """The key's record (``None``: no such key) and whether it was just read."""
        unknown, _ = self._unknown.get(key_id)
        if unknown:
            return None, False
        fresh, key = self._keys.get(key_id)
        if fresh:
            return key, False
        key = await self._cached(self._keys, key_id, self._store.keys.get)
        if key is None:
            self._keys.invalidate(key_id)
            self._unknown.put(key_id, True)
        return key, True

    async def _cached(
        self, cache: TTLCache[str, R | None], record_id: str, load: Callable[[str], R | None]
    ) -> R | None:
        fresh, record = cache.get(record_id)
        if fresh:
            return record
        try:
            record = await anyio.to_thread.run_sync(load, record_id)
        except StoreUnavailableError as error:
            raise service_unavailable(
                "The gateway cannot check keys right now; nothing was forwarded."
            ) from error
        cache.put(record_id, record)
        return record
