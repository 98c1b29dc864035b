"""The notifier: SNS alerts (CloudWatch alarms and the gateway's own events) to a chat webhook.

Each SNS record becomes one short message: what happened, which key or team, how much, and
what to do next. It is posted to a Slack-compatible incoming webhook (``{"text": ...}``) whose
URL lives in Secrets Manager. A record that cannot be understood is logged and dropped, never
retried forever; a webhook that fails raises, so Lambda's retries and DLQ take over.

The gateway's events (:mod:`groq_gateway.alert_events`) each have their own message; the
usage poller also uses :func:`format_event_for_email` for the e-mail version of what it publishes.

Example::

    handle_sns_event(sns_event)  # {"delivered": 1, "dropped": 0, "skipped": 0}
    format_message('{"kind": "model_retired", "model": "gemma2-9b-it", "teams": ["chatbot"]}')
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, ValidationError

from groq_gateway.alert_events import (
    GATEWAY_EVENT,
    BudgetPausedEvent,
    BudgetResumedEvent,
    BudgetThresholdEvent,
    GatewayEvent,
    ModelRetiredEvent,
    RotationDeadlineEvent,
    SecretRetiredEvent,
    UpstreamKeyNeededEvent,
)
from groq_gateway.metric_names import MetricName
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


def _who(scope: str, scope_id: str, name: str | None) -> str:
    if scope == "org":
        return "The organisation"
    if scope == "key":
        return f"Key `{name}` (`{scope_id}`)" if name else f"Key `{scope_id}`"
    return f"Team `{scope_id}`"


def _resets(resets_at: datetime | None) -> str:
    return f" on {resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if resets_at else ""


def _how_to_raise(scope: str, scope_id: str) -> str:
    if scope == "org":
        return "raise `OrgMonthlyCapUSD` (sam deploy --parameter-overrides)"
    path = "api-keys" if scope == "key" else "teams"
    return f"raise `monthly_budget_usd` (PATCH /openai/v1/{path}/{scope_id})"


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
    subject = _who(event.scope, event.scope_id, event.name)
    raise_it = _how_to_raise(event.scope, event.scope_id)
    if event.threshold_percent >= 100:
        action = (
            "Requests that would spend more are refused until the month ends"
            f"{_resets(event.resets_at)}; if this spend is expected, {raise_it}."
        )
    else:
        action = f"No action needed yet; if this spend is expected, {raise_it} before 100 %."
    return (
        f":moneybag: {subject} has used {event.threshold_percent} % of its {event.period} budget: "
        f"${event.spend_usd} of ${event.budget_usd}.\nNext: {action}"
    )


def format_paused(event: BudgetPausedEvent) -> str:
    subject = _who(event.scope, event.scope_id, event.name)
    refused = (
        "its requests get 429 `spending_cap_reached`"
        if event.scope == "team"
        else "requests with it are refused"
    )
    return (
        f":double_vertical_bar: {subject} was paused: it has spent ${event.spend_usd} of its "
        f"${event.budget_usd} budget for {event.period}, so {refused}. It resumes by itself "
        f"when the next billing month starts{_resets(event.resets_at)}.\n"
        f"Next: to resume it sooner, {_how_to_raise(event.scope, event.scope_id)}; "
        "the usage poller resumes it within minutes."
    )


def format_resumed(event: BudgetResumedEvent) -> str:
    subject = _who(event.scope, event.scope_id, event.name)
    if event.reason == "new_billing_month":
        why = f"the {event.period} billing month started"
    elif event.budget_usd is None:
        why = "its budget was removed"
    else:
        why = f"its budget was raised to ${event.budget_usd}"
    return (
        f":arrow_forward: {subject} was resumed after its budget pause: {why} "
        f"(${event.spend_usd} spent so far in {event.period}).\nNext: nothing to do."
    )


def format_model_retired(event: ModelRetiredEvent) -> str:
    named = [
        *(f"key `{name}`" for name in event.keys),
        *(f"team `{team}`" for team in event.teams),
        *(f"team `{team}`'s alias" for team in event.alias_teams),
    ]
    more = event.references - len(named)
    users = ", ".join(named) + (f" and {more} more" if more > 0 else "")
    allowed_by = f"which {users} still allow" if users else "which the gateway still allows"
    return (
        f":warning: Groq no longer serves `{event.model}`, {allowed_by}. "
        "Requests for it fail with 404 `model_not_found`.\n"
        "Next: give the teams an alias from it to a current model (PATCH /openai/v1/teams/<id> "
        "`model_aliases`), or take it out of the allowlists."
    )


def _source(ip: str | None) -> str:
    return f"from {ip}" if ip else "from an unknown address"


def format_rotation_deadline(event: RotationDeadlineEvent) -> str:
    return (
        f":hourglass: Key `{event.name}` ({event.key_id}) was rotated, but its old secret "
        f"`{event.prefix}…` is still in use (last {event.last_used_at:%Y-%m-%d %H:%M} UTC, "
        f"{_source(event.last_source_ip)}). It stops working at "
        f"{event.retire_by:%Y-%m-%d %H:%M} UTC.\n"
        "Next: give that app the new secret (from the key's Secrets Manager secret or the "
        "rotation's answer) before then."
    )


def format_secret_retired(event: SecretRetiredEvent) -> str:
    return (
        f":no_entry: Key `{event.name}` ({event.key_id}): its old secret `{event.prefix}…` "
        f"reached its deadline and was retired while still in use (last "
        f"{event.last_used_at:%Y-%m-%d %H:%M} UTC, {_source(event.last_source_ip)}). That app "
        "now gets 401 invalid_api_key.\n"
        "Next: give it the key's current secret."
    )


def format_event(event: GatewayEvent) -> str:
    """One short chat message for a gateway event: what happened, to which key or team, how
    much, and what to do next."""
    match event:
        case BudgetThresholdEvent():
            return format_budget(event)
        case BudgetPausedEvent():
            return format_paused(event)
        case BudgetResumedEvent():
            return format_resumed(event)
        case ModelRetiredEvent():
            return format_model_retired(event)
        case UpstreamKeyNeededEvent():
            return format_key_needed(event)
        case RotationDeadlineEvent():
            return format_rotation_deadline(event)
        case SecretRetiredEvent():
            return format_secret_retired(event)


def format_event_for_email(event: GatewayEvent) -> str:
    """The chat message without its leading emoji code, for e-mail subscribers."""
    return re.sub(r"^:[a-z_]+: ", "", format_event(event))


def event_subject(event: GatewayEvent) -> str:
    """A one-line SNS subject for e-mail subscribers: printable ASCII, at most 100 characters
    (what SNS accepts)."""
    match event:
        case BudgetThresholdEvent():
            who = _who(event.scope, event.scope_id, event.name).replace("`", "")
            text = f"{who} at {event.threshold_percent} % of its budget"
        case BudgetPausedEvent():
            who = _who(event.scope, event.scope_id, event.name).replace("`", "")
            text = f"{who} paused: budget exhausted"
        case BudgetResumedEvent():
            who = _who(event.scope, event.scope_id, event.name).replace("`", "")
            text = f"{who} resumed"
        case ModelRetiredEvent():
            text = f"model {event.model} is no longer served"
        case UpstreamKeyNeededEvent():
            text = "stage a new upstream Groq key"
        case RotationDeadlineEvent():
            text = f"key {event.name}: old secret still in use, deadline near"
        case SecretRetiredEvent():
            text = f"key {event.name}: old secret retired while in use"
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return f"groq-gateway: {printable}"[:100]


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
