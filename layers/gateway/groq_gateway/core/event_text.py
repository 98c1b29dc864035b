"""The words of the gateway's own events: the chat message, its e-mail version and subject."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from groq_gateway.core.events import (
    BudgetPausedEvent,
    BudgetResumedEvent,
    BudgetThresholdEvent,
    GatewayEvent,
    ModelRetiredEvent,
    RotationDeadlineEvent,
    SecretRetiredEvent,
    UnpricedModelUsedEvent,
    UpstreamKeyNeededEvent,
)


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


def format_unpriced_model(event: UnpricedModelUsedEvent) -> str:
    return (
        f":label: `{event.model}` has no price in the gateway: {event.requests} request(s) in "
        f"{event.period} were charged at the fallback price (${event.charged_usd} so far) and "
        "flagged estimated.\n"
        f"Next: set its price, e.g. `groq-gateway prices set {event.model} --input 0.15 "
        f"--output 0.60` (PUT /openai/v1/prices/{event.model}); see docs/operations.md, "
        "Setting a price."
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
        case UnpricedModelUsedEvent():
            return format_unpriced_model(event)
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
        case UnpricedModelUsedEvent():
            text = f"model {event.model} has no price: charged at the fallback"
        case UpstreamKeyNeededEvent():
            text = "stage a new upstream Groq key"
        case RotationDeadlineEvent():
            text = f"key {event.name}: old secret still in use, deadline near"
        case SecretRetiredEvent():
            text = f"key {event.name}: old secret retired while in use"
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return f"groq-gateway: {printable}"[:100]
