"""The gateway's own events on the alerts topic: one JSON object each, told apart by ``kind``.
Money is a decimal string in USD (``"80.10"``), periods are billing months, times ISO 8601 UTC.

Example::

    GATEWAY_EVENT.validate_json(event.model_dump_json())  # the same event back
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BudgetThresholdEvent(_Event):
    """Spend reached 50, 80 or 100 % of a key's, team's or the organisation's budget."""

    kind: Literal["budget_threshold"] = "budget_threshold"
    scope: Literal["key", "team", "org"]
    scope_id: str
    # The key's name; absent for teams and the organisation.
    name: str | None = None
    threshold_percent: int
    spend_usd: Decimal
    budget_usd: Decimal
    period: str
    # When the billing month ends and the budget starts again.
    resets_at: datetime | None = None


class BudgetPausedEvent(_Event):
    """The poller paused a key or team whose budget is exhausted."""

    kind: Literal["budget_paused"] = "budget_paused"
    scope: Literal["key", "team"]
    scope_id: str
    name: str | None = None
    spend_usd: Decimal
    budget_usd: Decimal
    period: str
    resets_at: datetime


class BudgetResumedEvent(_Event):
    """The poller resumed a key or team it had paused for its budget."""

    kind: Literal["budget_resumed"] = "budget_resumed"
    scope: Literal["key", "team"]
    scope_id: str
    name: str | None = None
    # Why: the billing month changed, or an admin raised or removed the budget.
    reason: Literal["new_billing_month", "budget_changed"]
    spend_usd: Decimal
    # None: the scope has no budget any more.
    budget_usd: Decimal | None
    period: str


class ModelRetiredEvent(_Event):
    """A model that keys or teams allow (or that an alias leads to) is no longer served."""

    kind: Literal["model_retired"] = "model_retired"
    model: str
    # Names of the keys, ids of the teams, and ids of the teams whose alias leads to it; each
    # list is cut at MAX_LISTED, ``references`` counts them all.
    keys: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    alias_teams: list[str] = Field(default_factory=list)
    references: int = 0


class UnpricedModelUsedEvent(_Event):
    """A model without a price in the gateway was used (reported once per model)."""

    kind: Literal["unpriced_model_used"] = "unpriced_model_used"
    model: str
    # This billing month so far: requests charged at the fallback price, and what they cost.
    requests: int
    charged_usd: Decimal
    period: str


class UpstreamKeyNeededEvent(_Event):
    """The upstream key rotation found no staged key to promote."""

    kind: Literal["upstream_key_needed"] = "upstream_key_needed"
    secret_id: str


class RotationDeadlineEvent(_Event):
    """A rotated key's old secret is still in use and its deadline is near."""

    kind: Literal["rotation_deadline"] = "rotation_deadline"
    key_id: str
    name: str
    # The old secret's display prefix (never the secret).
    prefix: str
    retire_by: datetime
    last_used_at: datetime
    last_source_ip: str | None = None


class SecretRetiredEvent(_Event):
    """A rotated key's old secret reached its deadline while still in use, and was retired."""

    kind: Literal["secret_retired"] = "secret_retired"
    key_id: str
    name: str
    prefix: str
    last_used_at: datetime
    last_source_ip: str | None = None
    retired_at: datetime


GatewayEvent = Annotated[
    BudgetThresholdEvent
    | BudgetPausedEvent
    | BudgetResumedEvent
    | ModelRetiredEvent
    | UnpricedModelUsedEvent
    | UpstreamKeyNeededEvent
    | RotationDeadlineEvent
    | SecretRetiredEvent,
    Field(discriminator="kind"),
]
GATEWAY_EVENT: TypeAdapter[GatewayEvent] = TypeAdapter(GatewayEvent)
# How many keys or teams an event lists by name.
MAX_LISTED = 10
