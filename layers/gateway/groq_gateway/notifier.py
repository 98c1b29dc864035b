"""The notifier: SNS alerts (CloudWatch alarms and the gateway's own events) to a chat webhook.

Each SNS record becomes one short message: what happened, which key or team, how much, and
what to do next. It is posted to a Slack-compatible incoming webhook (``{"text": ...}``) whose
URL lives in Secrets Manager. A record that cannot be understood is logged and dropped, never
retried forever; a webhook that fails raises, so Lambda's retries and DLQ take over.

Example::

    handle_sns_event(sns_event)  # {"delivered": 1, "dropped": 0, "skipped": 0}
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from groq_gateway.observability import logger, metrics
from groq_gateway.secrets import read_json_secret
from groq_gateway.settings import Settings, get_settings


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


class BudgetThresholdEvent(BaseModel):
    """Published by the usage poller when spend crosses 50, 80 or 100 % of a budget."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["budget_threshold"]
    scope: Literal["key", "team", "org"]
    scope_id: str
    threshold_percent: int
    spend_usd: Decimal
    budget_usd: Decimal
    period: str


class UpstreamKeyNeededEvent(BaseModel):
    """Published by the upstream key rotation when no staged key is left to promote."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["upstream_key_needed"]
    secret_id: str


def format_key_needed(event: UpstreamKeyNeededEvent) -> str:
    return (
        ":key: The upstream Groq key could not be rotated: no replacement key is staged.\n"
        f"Secret: {event.secret_id}\n"
        "Next: create a key in the Groq console and add it to the secret's `staged` list "
        "(see docs/operations.md)."
    )


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


def format_budget(event: BudgetThresholdEvent) -> str:
    subject = "The organisation" if event.scope == "org" else f"{event.scope} `{event.scope_id}`"
    if event.threshold_percent >= 100:
        action = (
            "Requests are refused until the budget is raised or the month ends "
            "(see 'Raising a cap' in docs/operations.md)."
        )
    else:
        action = "No action needed yet; raise the budget now if this spend is expected."
    return (
        f":moneybag: {subject} has used {event.threshold_percent} % of its {event.period} budget: "
        f"${event.spend_usd} of ${event.budget_usd}.\nNext: {action}"
    )


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
        if payload.get("kind") == "budget_threshold":
            return format_budget(BudgetThresholdEvent.model_validate(payload))
        if payload.get("kind") == "upstream_key_needed":
            return format_key_needed(UpstreamKeyNeededEvent.model_validate(payload))
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
    metrics.add_metric(name="NotificationsDelivered", unit="Count", value=counts["delivered"])
    return counts
