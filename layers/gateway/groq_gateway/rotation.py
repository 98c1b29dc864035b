"""The rotation function's two jobs, chosen by the event that arrives.

* An EventBridge Scheduler event (``{"job": "rotate-due-keys"}`` from template.yaml): disable
  keys past their ``expires_at``. Each change is a conditional write on the key's version, so
  a repeated or concurrent run changes nothing twice.
* A Secrets Manager rotation event (``{"Step", "SecretId", "ClientRequestToken"}``): one of the
  four steps that promote a staged upstream Groq key (see :mod:`groq_gateway.upstream_rotation`).

Example::

    handle_rotation_event({"job": "rotate-due-keys"})  # {"job": ..., "expired": 0}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from groq_gateway.models import KeyStatus, utcnow
from groq_gateway.observability import logger, metrics
from groq_gateway.settings import Settings, get_settings
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.upstream_rotation import RotationStep, rotate_upstream_key


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


def handle_rotation_event(
    event: dict[str, Any],
    *,
    settings: Settings | None = None,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    settings = settings or get_settings()
    if "Step" in event:
        step = RotationStep.model_validate(event)
        rotate_upstream_key(step, settings)
        return {"step": step.Step, "secret": step.SecretId}
    store = GatewayStore(settings.table_name)
    expired = expire_keys(store, now())
    metrics.add_metric(name="KeysExpired", unit="Count", value=expired)
    return {"job": event.get("job", "rotate-due-keys"), "expired": expired}
