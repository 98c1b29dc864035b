"""The notifier: SNS alerts (CloudWatch alarms and the gateway's own events) to a chat webhook.

Each SNS record becomes one short message: what happened, which key or team, how much, and
what to do next. It is posted to a Slack-compatible incoming webhook (``{"text": ...}``) whose
URL lives in Secrets Manager. A record that cannot be understood is logged and dropped, never
retried forever; a webhook that fails raises, so Lambda's retries and DLQ take over.

The gateway's events (:mod:`groq_gateway.core.events`) each have their own message; the
usage poller also uses :func:`format_event_for_email` for the e-mail version of what it publishes.

Example::

    handle_sns_event(sns_event)  # {"delivered": 1, "dropped": 0, "skipped": 0}
    format_message('{"kind": "model_retired", "model": "gemma2-9b-it", "teams": ["chatbot"]}')
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, ValidationError

from groq_gateway.core.event_text import format_event
from groq_gateway.core.events import GATEWAY_EVENT
from groq_gateway.core.metric_names import MetricName
from groq_gateway.core.observability import logger, metrics
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.secrets_manager import read_json_secret


class AlarmTrigger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    MetricName: str | None = None
    Namespace: str | None = None
    Threshold: float | None = None
    ComparisonOperator: str | None = None


class AlarmMessage(BaseModel):
    """The JSON CloudWatch publishes to SNS when an alarm changes state."""

    model_config = ConfigDict(extra="ignore")

    AlarmName: str
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str
    StateChangeTime: str
    AlarmDescription: str | None = None
    Trigger: AlarmTrigger | None = None


def format_alarm(alarm: AlarmMessage) -> str:
    if alarm.NewStateValue == "OK":
        headline = f":white_check_mark: Resolved: {alarm.AlarmName}"
        action = "Nothing to do; the alarm is back to OK."
    else:
        headline = f":rotating_light: {alarm.AlarmName} is {alarm.NewStateValue}"
        action = "See the alarm's runbook in docs/operations.md."
    lines = [headline]
    if alarm.AlarmDescription:
        lines.append(alarm.AlarmDescription)
    lines.append(f"Why: {alarm.NewStateReason}")
    lines.append(f"When: {alarm.StateChangeTime}")
    lines.append(f"Next: {action}")
    return "\n".join(lines)


def format_message(raw: str) -> str | None:
    """The chat text for an SNS message body, or ``None`` if it is not one we understand."""
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
