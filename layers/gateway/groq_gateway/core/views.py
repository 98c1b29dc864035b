"""What the admin API and the audit log show of a record: never a secret, never a hash."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, PlainSerializer

from groq_gateway.core.records import (
    AdminKey,
    AdminKeyStatus,
    AdminRole,
    EndpointGroup,
    GatewayKey,
    KeyStatus,
    Team,
    TeamStatus,
)

# Money in answers: a JSON number of US dollars (the store counts integer micro-dollars).
Usd = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def _same_named(record: BaseModel, view: type[BaseModel]) -> dict[str, Any]:
    """The record's fields that the view shows under the same name, as they are."""
    shown = view.model_fields.keys() & type(record).model_fields.keys()
    return {name: getattr(record, name) for name in shown}


class PreviousSecretResponse(BaseModel):
    """A secret a rotation replaced, still accepted until it retires."""

    prefix: str
    created_at: datetime
    grace_ends_at: datetime | None
    retire_by: datetime | None


class KeyResponse(BaseModel):
    object: Literal["api_key"] = "api_key"
    id: str
    name: str
    # What lists may show of the key: never enough to use it.
    prefix: str
    team: str | None
    status: KeyStatus
    paused_reason: str | None
    description: str
    allowed_models: list[str] | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    monthly_budget_usd: Usd | None
    expires_at: datetime | None
    allowed_endpoints: list[EndpointGroup] | None
    allowed_cidrs: list[str] | None
    rotation_period_days: int | None
    grace_period_hours: int
    quiet_period_hours: int
    retire_deadline_hours: int
    deadline_warning_hours: int
    deliver_to_secret: bool
    last_rotated_at: datetime | None
    previous_secrets: list[PreviousSecretResponse]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, key: GatewayKey) -> KeyResponse:
        return cls(
            **_same_named(key, cls),
            id=key.key_id,
            prefix=key.display_prefix,
            team=key.team_id,
            previous_secrets=[
                PreviousSecretResponse(
                    prefix=s.display_prefix,
                    created_at=s.created_at,
                    grace_ends_at=s.retire_after,
                    retire_by=s.retire_by,
                )
                for s in key.previous_secrets
                if s.delivered
            ],
        )


class TeamResponse(BaseModel):
    object: Literal["team"] = "team"
    id: str
    description: str
    status: TeamStatus
    paused_reason: str | None
    allowed_models: list[str] | None
    model_aliases: dict[str, str]
    requests_per_minute: int | None
    tokens_per_minute: int | None
    monthly_budget_usd: Usd | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, team: Team) -> TeamResponse:
        return cls(**_same_named(team, cls), id=team.team_id)


class AdminKeyResponse(BaseModel):
    object: Literal["admin_key"] = "admin_key"
    id: str
    name: str
    prefix: str
    role: AdminRole
    # The teams of a team_admin or team_viewer key; null for full and read_only.
    teams: list[str] | None = None
    status: AdminKeyStatus
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, key: AdminKey) -> AdminKeyResponse:
        return cls(**_same_named(key, cls), id=key.key_id, prefix=key.display_prefix)
