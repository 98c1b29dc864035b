"""The domain's records as pydantic models: what the store keeps and the APIs return."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A team's id: lowercase letters, digits and dashes, as in a URL path.
TEAM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class EndpointGroup(StrEnum):
    """The groups of upstream endpoints a key's endpoint allowlist names."""

    CHAT = "chat"
    RESPONSES = "responses"
    MODELS = "models"
    AUDIO = "audio"
    FILES = "files"
    BATCHES = "batches"


# What a key may use when its allowlist is not set: files and batches only when named (they
# carry whole datasets and run for days).
DEFAULT_ENDPOINT_GROUPS = frozenset(
    {EndpointGroup.CHAT, EndpointGroup.RESPONSES, EndpointGroup.MODELS, EndpointGroup.AUDIO}
)


class KeyStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"
    EXPIRED = "expired"


class SecretVersion(BaseModel):
    """One secret of a key. Rotation adds a version; the old one lives on through its grace.

    A retired secret is removed from the key's record; until then it is accepted, and never
    after ``retire_by`` (the hard deadline), whatever the rotation function has done.
    """

    model_config = ConfigDict(frozen=True)

    secret_hash: str
    display_prefix: str
    created_at: datetime
    # Set when a rotation replaced this secret: the end of its grace period...
    retire_after: datetime | None = None
    # ...and the hard deadline, when it is refused even if it is still in use.
    retire_by: datetime | None = None
    # False while a rotation has minted this secret but not yet delivered it to the key's
    # Secrets Manager secret; an undelivered secret is never accepted.
    delivered: bool = True
    # The owner was told the deadline is near while the secret was still in use.
    deadline_warned: bool = False

    @property
    def is_current(self) -> bool:
        return self.retire_after is None

    def usable_at(self, now: datetime) -> bool:
        return self.delivered and (self.retire_by is None or now < self.retire_by)


class GatewayKey(BaseModel):
    """A gateway key: an app's scoped credential. Its id never changes, its secret may."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    name: str
    team_id: str | None = None
    description: str = ""
    status: KeyStatus = KeyStatus.ACTIVE
    # None: every model the team allows. An empty list allows nothing.
    allowed_models: list[str] | None = None
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    monthly_budget_usd: Decimal | None = Field(default=None, ge=0)
    expires_at: datetime | None = None
    # None: DEFAULT_ENDPOINT_GROUPS.
    allowed_endpoints: list[EndpointGroup] | None = None
    # None: any source address. Otherwise CIDR blocks (IPv4 or IPv6) the caller must be in.
    allowed_cidrs: list[str] | None = None
    # Rotate the secret every N days (the rotation function does it); None: only by hand.
    rotation_period_days: int | None = Field(default=None, ge=1)
    # After a rotation the old secret is accepted for grace_period_hours; then it is retired
    # as soon as it has seen no traffic for quiet_period_hours, and at retire_deadline_hours
    # after the rotation at the latest (an alert goes out deadline_warning_hours before).
    grace_period_hours: int = Field(default=24, ge=0, le=720)
    quiet_period_hours: int = Field(default=24, ge=0, le=720)
    retire_deadline_hours: int = Field(default=168, ge=1, le=2160)
    deadline_warning_hours: int = Field(default=24, ge=0, le=720)
    # Deliver each new secret to the Secrets Manager secret "<stack>/keys/<key id>", where
    # the app reads it (required for scheduled rotation: nobody else would see the secret).
    deliver_to_secret: bool = False
    last_rotated_at: datetime | None = None
    # Why the key is paused (e.g. "budget"), shown by the admin API.
    paused_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    secrets: list[SecretVersion]
    version: int = 1

    @model_validator(mode="after")
    def _deadline_after_grace(self) -> GatewayKey:
        if self.retire_deadline_hours < self.grace_period_hours:
            raise ValueError("retire_deadline_hours must not be shorter than grace_period_hours")
        return self

    @property
    def display_prefix(self) -> str:
        current = [s for s in self.secrets if s.is_current]
        return (current or self.secrets)[-1].display_prefix

    @property
    def previous_secrets(self) -> list[SecretVersion]:
        """Secrets a rotation replaced and that are not retired yet."""
        return [s for s in self.secrets if not s.is_current]

    def is_usable_at(self, now: datetime) -> bool:
        if self.status is not KeyStatus.ACTIVE:
            return False
        return self.expires_at is None or now < self.expires_at

    @property
    def endpoint_groups(self) -> frozenset[EndpointGroup]:
        if self.allowed_endpoints is None:
            return DEFAULT_ENDPOINT_GROUPS
        return frozenset(self.allowed_endpoints)


class TeamStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Team(BaseModel):
    """A team: which models its keys may use, its limits and budget. A key's effective rights
    are its own intersected with its team's: a key never exceeds its team."""

    model_config = ConfigDict(frozen=True)

    team_id: str = Field(pattern=TEAM_ID_PATTERN)
    description: str = ""
    status: TeamStatus = TeamStatus.ACTIVE
    paused_reason: str | None = None
    # None: every model. An empty list allows nothing.
    allowed_models: list[str] | None = None
    # Requested model id -> the id forwarded (e.g. a retired model to its replacement),
    # applied before the allowlist check.
    model_aliases: dict[str, str] = Field(default_factory=dict)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    monthly_budget_usd: Decimal | None = Field(default=None, ge=0)
    created_at: datetime
    updated_at: datetime
    version: int = 1


class UsageRecord(BaseModel):
    """What one upstream call cost, as metered after its response."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    team_id: str | None
    model: str
    at: datetime
    prompt_tokens: int = 0
    completion_tokens: int = 0
    audio_seconds: Decimal = Decimal(0)
    cost_micros: int = 0
    # Metered from an estimate (e.g. a stream cut off before its usage arrived).
    estimated: bool = False
    # No price is known for the model: counted in tokens only.
    unpriced: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageCounts(BaseModel):
    """The usage counters, summed over any set of requests: a day's metering item, a rollup,
    a report's line."""

    model_config = ConfigDict(frozen=True)

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    audio_seconds: Decimal = Decimal(0)
    cost_micros: int = 0
    # Metered from an estimate (e.g. a stream cut off before its usage arrived).
    estimated_requests: int = 0
    # For a model without a known price.
    unpriced_requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def counts(self) -> UsageCounts:
        """The counters alone (of a :class:`DailyUsage`, without its key, model and day)."""
        return UsageCounts(**{name: getattr(self, name) for name in UsageCounts.model_fields})

    def __add__(self, other: UsageCounts) -> UsageCounts:
        return UsageCounts(
            **{
                name: getattr(self, name) + getattr(other, name)
                for name in UsageCounts.model_fields
            }
        )

    @classmethod
    def total(cls, usages: Iterable[UsageCounts]) -> UsageCounts:
        return sum((usage.counts() for usage in usages), UsageCounts())


class DailyUsage(UsageCounts):
    """One key's use of one model on one UTC day: the metering item's fields."""

    key_id: str
    team_id: str | None = None
    model: str
    day: str  # YYYY-MM-DD, UTC


class AdminRole(StrEnum):
    """What an admin key or IAM principal may do: ``read_only`` and ``full`` over the whole
    organisation; ``team_viewer`` and ``team_admin`` within their ``teams`` only. Which route
    each may call: ``groq_gateway/admin/authorization.py`` (docs/admin-api.md#roles)."""

    READ_ONLY = "read_only"
    FULL = "full"
    TEAM_VIEWER = "team_viewer"
    TEAM_ADMIN = "team_admin"

    @property
    def is_team_scoped(self) -> bool:
        """Whether the role holds only for named teams (and needs them)."""
        return self in (AdminRole.TEAM_VIEWER, AdminRole.TEAM_ADMIN)


class AdminKeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class AdminKey(BaseModel):
    """A named admin key created through the API (the bootstrap key lives in a secret).

    Like a gateway key, only ``sha256("<key id>:<secret>")`` is stored.
    """

    model_config = ConfigDict(frozen=True)

    key_id: str
    name: str
    role: AdminRole
    # The teams a team_admin or team_viewer key holds its role for; None for org roles.
    teams: list[str] | None = None
    description: str = ""
    status: AdminKeyStatus = AdminKeyStatus.ACTIVE
    secret_hash: str
    display_prefix: str
    # The actor id of the admin who created it.
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int = 1


class IamPrincipalRole(BaseModel):
    """The admin role a full admin mapped to an IAM principal (``arn``: a user, a role, every
    session of it, or an account's root), for principals the template's ARN lists do not name.
    """

    model_config = ConfigDict(frozen=True)

    arn: str
    role: AdminRole
    # The teams of a team_admin or team_viewer mapping; None for org roles.
    teams: list[str] | None = None
    updated_at: datetime
    # The actor id of the admin who set it.
    updated_by: str
    version: int = 1


class AuditAction(StrEnum):
    """Every change to a record, by the admin API or the gateway itself (a rotation, a
    budget pause); one audit entry per change."""

    API_KEY_CREATED = "api_key.created"
    API_KEY_UPDATED = "api_key.updated"
    API_KEY_REVOKED = "api_key.revoked"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_SECRET_RETIRED = "api_key.secret_retired"  # noqa: S105 - an action name
    TEAM_CREATED = "team.created"
    TEAM_UPDATED = "team.updated"
    TEAM_DELETED = "team.deleted"
    ADMIN_KEY_CREATED = "admin_key.created"
    ADMIN_KEY_REVOKED = "admin_key.revoked"
    IAM_PRINCIPAL_SET = "iam_principal.set"
    IAM_PRINCIPAL_DELETED = "iam_principal.deleted"
    PRICE_SET = "price.set"
    PRICE_DELETED = "price.deleted"


class AuditTarget(StrEnum):
    API_KEY = "api_key"
    TEAM = "team"
    ADMIN_KEY = "admin_key"
    PRICE = "price"  # an operator's price of one model (target id: the model)
    IAM_PRINCIPAL = "iam_principal"  # an IAM principal's role mapping (target id: its ARN)


class AuditEntry(BaseModel):
    """Who changed what, when and from where, with the record before and after.

    ``before`` and ``after`` are the records as the admin API shows them: never a plaintext
    key, never a hash.
    """

    model_config = ConfigDict(frozen=True)

    entry_id: str
    at: datetime
    actor_id: str
    actor_name: str
    action: AuditAction
    target_type: AuditTarget
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    source_ip: str | None = None
    # The teams the change concerns (a team's own id; a key's team before and after): what a
    # team-scoped admin may read of the log. Empty for entries written before #19.
    team_ids: list[str] = Field(default_factory=list)

    @classmethod
    def new(
        cls,
        *,
        actor_id: str,
        actor_name: str,
        action: AuditAction,
        target_type: AuditTarget,
        target_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        source_ip: str | None,
        at: datetime,
    ) -> AuditEntry:
        """An entry with a fresh random id, and the teams it concerns."""
        teams = [target_id] if target_type is AuditTarget.TEAM else []
        if target_type is AuditTarget.API_KEY:
            teams += [view["team"] for view in (before, after) if view and view.get("team")]
        return cls(
            team_ids=list(dict.fromkeys(teams)),
            entry_id=uuid.uuid4().hex,
            at=at,
            actor_id=actor_id,
            actor_name=actor_name,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            source_ip=source_ip,
        )
