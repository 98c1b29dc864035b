"""Key expiry for the rotation function's scheduled run: active keys past their
``expires_at`` are marked expired. See docs/architecture.md."""

from __future__ import annotations

from datetime import datetime

from groq_gateway.core.observability import logger
from groq_gateway.core.records import KeyStatus
from groq_gateway.store import ConditionFailedError, GatewayStore


def expire_keys(store: GatewayStore, now: datetime) -> int:
    """Mark every active key whose ``expires_at`` has passed as expired; returns how many."""
    expired = 0
    for key in store.keys.list_all():
        if key.status is KeyStatus.ACTIVE and key.expires_at is not None and key.expires_at <= now:
            try:
                store.keys.set_status(key, KeyStatus.EXPIRED, now)
            except ConditionFailedError:
                continue  # changed meanwhile (another run, or an admin): the next run looks again
            logger.info("key expired", extra={"key_id": key.key_id})
            expired += 1
    return expired
