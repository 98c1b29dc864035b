"""The rotation function's jobs, chosen by the event that arrives.

* An EventBridge Scheduler event (``{"job": "rotate-due-keys"}`` from template.yaml): disable
  keys past their ``expires_at``; rotate keys whose rotation period is due (delivering the
  new secret to the key's Secrets Manager secret); warn before a replaced secret's deadline
  while it is still in use; retire replaced secrets that have gone quiet or reached their
  deadline (:mod:`groq_gateway.secret_rotation`); then publish the alerts this queued. Every
  change is a conditional write on the key's version, so a repeated or concurrent run changes
  nothing twice.
* A Secrets Manager rotation event (``{"Step", "SecretId", "ClientRequestToken"}``): one of the
  four steps that promote a staged upstream Groq key
  (see :mod:`groq_gateway.rotation.upstream_key`).

Example::

    handle_rotation_event({"job": "rotate-due-keys"})
    # {"job": ..., "expired": 0, "rotated": 0, "retired": 0, "warned": 0, "failed": 0}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from groq_gateway.alert_outbox import publish_outbox
from groq_gateway.core.metric_names import MetricName
from groq_gateway.core.observability import logger, metrics
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import KeyStatus
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.rotation.upstream_key import RotationStep, rotate_upstream_key
from groq_gateway.secret_rotation import KeyRotator
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
    run = KeyRotator(store, settings, now=now).run()
    published = publish_outbox(settings, store.notices, now())
    metrics.add_metric(name=MetricName.KEYS_EXPIRED, unit="Count", value=expired)
    metrics.add_metric(name=MetricName.KEYS_ROTATED, unit="Count", value=len(run.rotated))
    metrics.add_metric(name=MetricName.SECRETS_RETIRED, unit="Count", value=len(run.retired))
    metrics.add_metric(name=MetricName.ROTATION_FAILURES, unit="Count", value=len(run.failed))
    if run.failed or published.refusal is not None:
        logger.warning(
            "rotation run incomplete",
            extra={"failed_keys": run.failed, "alerts_refused": published.refusal is not None},
        )
    return {
        "job": event.get("job", "rotate-due-keys"),
        "expired": expired,
        "rotated": len(run.rotated),
        "retired": len(run.retired),
        "warned": len(run.warned),
        "failed": len(run.failed),
        "alerts_published": published.published,
    }
