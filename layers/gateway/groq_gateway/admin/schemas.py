"""What the admin API accepts and returns. Unknown fields are refused, never ignored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from groq_gateway.models import GatewayKey, KeyStatus


class CreateKeyRequest(BaseModel):
    """The seed's body (``name``, ``allowed_models``, ``requests_per_minute``,
    ``tokens_per_minute``) and the gateway's additions."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    allowed_models: list[str] | None = None
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    team: str | None = Field(default=None, min_length=1, max_length=64)
    monthly_budget_usd: Decimal | None = Field(default=None, ge=0)
    expires_at: datetime | None = None
    description: str = Field(default="", max_length=1024)


class KeyResponse(BaseModel):
    object: Literal["api_key"] = "api_key"
    id: str
    name: str
    prefix: str
    team: str | None
    status: KeyStatus
    allowed_models: list[str] | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    monthly_budget_usd: Decimal | None
    expires_at: datetime | None
    description: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, key: GatewayKey) -> KeyResponse:
        return cls(
            id=key.key_id,
            name=key.name,
            prefix=key.display_prefix,
            team=key.team_id,
            status=key.status,
            allowed_models=key.allowed_models,
            requests_per_minute=key.requests_per_minute,
            tokens_per_minute=key.tokens_per_minute,
            monthly_budget_usd=key.monthly_budget_usd,
            expires_at=key.expires_at,
            description=key.description,
            created_at=key.created_at,
            updated_at=key.updated_at,
        )


class CreatedKeyResponse(KeyResponse):
    """Returned once, at creation: the only time the plaintext key is shown."""

    key: str
