"""The notifier: each SNS record (a CloudWatch alarm or a gateway event) posted as one short
message to a Slack-compatible webhook whose URL is in Secrets Manager. See docs/architecture.md.

Example::

    handle_sns_event(sns_event)  # {"delivered": 1, "dropped": 0, "skipped": 0}
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from groq_gateway.core.event_text import format_event
from groq_gateway.core.events import GATEWAY_EVENT
from groq_gateway.core.metric_names import MetricName
from groq_gateway.core.observability import logger, metrics
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.notifier.alarm_text import AlarmMessage, format_alarm
from groq_gateway.secrets_manager import read_json_secret


def format_message(raw: str) -> str | None:
    """The chat text for an SNS message body, or ``None`` if it is not one we understand.

    Example::

        format_message('{"kind": "model_retired", "model": "gemma2-9b-it", "teams": ["chatbot"]}')
    """
    try:
        payload: Any = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    try:
        if "AlarmName" in payload:
            return format_alarm(AlarmMessage.model_validate(payload))
        if "kind" in payload:
            return format_event(GATEWAY_EVENT.validate_python(payload))
    except ValidationError:
        return None
    return None


def handle_sns_event(event: dict[str, Any], settings: Settings | None = None) -> dict[str, int]:
    """Post each record's text to the webhook. A record that cannot be understood is logged
    and dropped, never retried; a failing webhook raises, so Lambda's retries and DLQ take
    over. Without a webhook, alerts are left to e-mail subscribers."""
    settings = settings or get_settings()
    counts = {"delivered": 0, "dropped": 0, "skipped": 0}
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.warning("not an SNS event; dropped")
        counts["dropped"] += 1
        return counts
    url = ""
    if settings.webhook_secret_id:
        url = str(read_json_secret(settings.webhook_secret_id, max_age=300).get("url") or "")
    for record in records:
        sns = record.get("Sns", {}) if isinstance(record, dict) else {}
        text = format_message(sns.get("Message", "")) if isinstance(sns, dict) else None
        if text is None:
            logger.warning("malformed alert dropped", extra={"message_id": sns.get("MessageId")})
            counts["dropped"] += 1
            continue
        if not url:
            logger.info("no webhook configured; alert left to e-mail subscribers")
            counts["skipped"] += 1
            continue
        response = httpx.post(url, json={"text": text}, timeout=10.0)
        response.raise_for_status()
        counts["delivered"] += 1
    metrics.add_metric(
        name=MetricName.NOTIFICATIONS_DELIVERED, unit=MetricUnit.Count, value=counts["delivered"]
    )
    return counts
