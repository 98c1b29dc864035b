"""The rotation function's jobs, chosen by the event that arrives: the scheduled run over
gateway keys, or one of Secrets Manager's rotation steps for the upstream Groq key.
See docs/architecture.md.

Example::

    handle_rotation_event({"job": "rotate-due-keys"})
    # {"job": ..., "expired": 0, "rotated": 0, "retired": 0, "warned": 0, "failed": 0, ...}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from groq_gateway.alert_outbox import publish_outbox
from groq_gateway.core.metric_names import MetricName
from groq_gateway.core.observability import logger, metrics
from groq_gateway.core.periods import utcnow
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.rotation.expiry import expire_keys
from groq_gateway.rotation.upstream_key import RotationStep, rotate_upstream_key
from groq_gateway.secret_rotation import KeyRotator
from groq_gateway.store import GatewayStore


def rotate_due_keys(
    settings: Settings, store: GatewayStore, now: Callable[[], datetime], job: object
) -> dict[str, Any]:
    """The scheduled run: expire keys past ``expires_at``; rotate due keys, warn before and
    retire replaced secrets (:class:`groq_gateway.secret_rotation.KeyRotator`); then publish
    the alerts this queued. Every change is conditional on the key's version, so a repeated
    or concurrent run changes nothing twice."""
    expired = expire_keys(store, now())
    run = KeyRotator(store, settings, now=now).run()
    published = publish_outbox(settings, store.notices, now())
    metrics.add_metric(name=MetricName.KEYS_EXPIRED, unit=MetricUnit.Count, value=expired)
    metrics.add_metric(name=MetricName.KEYS_ROTATED, unit=MetricUnit.Count, value=len(run.rotated))
    metrics.add_metric(
        name=MetricName.SECRETS_RETIRED, unit=MetricUnit.Count, value=len(run.retired)
    )
    metrics.add_metric(
        name=MetricName.ROTATION_FAILURES, unit=MetricUnit.Count, value=len(run.failed)
    )
    if run.failed or published.refusal is not None:
        logger.warning(
            "rotation run incomplete",
            extra={"failed_keys": run.failed, "alerts_refused": published.refusal is not None},
        )
    return {
        "job": job,
        "expired": expired,
        "rotated": len(run.rotated),
        "retired": len(run.retired),
        "warned": len(run.warned),
        "failed": len(run.failed),
        "alerts_published": published.published,
    }


def handle_rotation_event(
    event: dict[str, Any],
    *,
    settings: Settings | None = None,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    """The function's entry point: a Secrets Manager rotation step (``{"Step", "SecretId",
    "ClientRequestToken"}``) or the schedule's event (``events/rotation-schedule.json``)."""
    settings = settings or get_settings()
    store = GatewayStore(settings.table_name)
    if "Step" in event:
        step = RotationStep.model_validate(event)
        rotate_upstream_key(step, settings, store.notices, now())
        return {"step": step.Step, "secret": step.SecretId}
    return rotate_due_keys(settings, store, now, event.get("job", "rotate-due-keys"))
