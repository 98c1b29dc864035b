"""The domain's records, as pydantic models: what the store keeps and the APIs return.

Money is kept in integer micro-dollars (``1 USD = 1_000_000``) wherever it is counted, so that
DynamoDB's atomic ``ADD`` sums exactly; budgets are configured in USD as decimals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MICRO_USD_PER_USD = 1_000_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def usd_to_micros(usd: Decimal) -> int:
    return int((usd * MICRO_USD_PER_USD).to_integral_value())


class KeyStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"
    EXPIRED = "expired"


class SecretVersion(BaseModel):
    """One secret of a key. Rotation adds a version; the old one lives on through its grace."""

    model_config = ConfigDict(frozen=True)

    secret_hash: str
    display_prefix: str
    created_at: datetime
    # None while this is the current secret; set when a rotation starts the old one's grace.
    retire_after: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.retire_after is None or now < self.retire_after


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
    created_at: datetime
    updated_at: datetime
    secrets: list[SecretVersion]
    version: int = 1

    @property
    def display_prefix(self) -> str:
        current = [s for s in self.secrets if s.retire_after is None]
        return (current or self.secrets)[-1].display_prefix

    def is_usable_at(self, now: datetime) -> bool:
        if self.status is not KeyStatus.ACTIVE:
            return False
        return self.expires_at is None or now < self.expires_at
