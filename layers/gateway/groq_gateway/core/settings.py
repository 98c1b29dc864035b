"""Settings from the environment template.yaml gives every function (``groq-gateway dev``
sets the same variables, so the code never knows where it runs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, tzinfo
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from groq_gateway.core.money import usd_to_micros
from groq_gateway.core.pricing import ModelPrice, UnpricedPolicy


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(min_length=1)
    upstream_base_url: HttpUrl = HttpUrl("https://api.groq.com")
    upstream_key_secret_id: str = ""
    admin_key_secret_id: str = ""
    webhook_secret_id: str = ""
    alerts_topic_arn: str = ""
    # Where keys with deliver_to_secret get each new secret: "<prefix><key id>".
    key_secret_prefix: str = "groq-gateway/keys/"  # noqa: S105 - a name prefix, not a secret
    org_monthly_cap_usd: Decimal = Decimal(0)
    # Organisation budget leases (groq_gateway.proxy.budget_leases): the slice of the
    # organisation's cap a proxy instance reserves at once and admits requests against in
    # memory; 0 turns leases off (every request then reserves on the organisation item). A
    # lease is drawn on for org_lease_seconds; the poller reclaims what an instance never
    # released org_lease_grace_seconds later, which must be longer than any request can run.
    org_lease_usd: Decimal = Field(default=Decimal(1), ge=0)
    org_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    org_lease_grace_seconds: float = Field(default=600.0, gt=0)
    # IAM principals (ARNs) allowed on the admin API's /iam/ routes, full or read-only; with
    # both empty every principal of the API's own account is full (see groq_gateway.admin.iam).
    # The environment gives each as one comma-separated string.
    admin_iam_full_arns: tuple[str, ...] = ()
    admin_iam_read_only_arns: tuple[str, ...] = ()
    # Monthly caps reset at 00:00 on the 1st in this IANA timezone.
    billing_timezone: str = "UTC"
    stage: str = "dev"
    # How long a key's record may be served from an instance's memory. Revocations and limit
    # changes reach every instance within this bound (at most 5 s, the product's promise).
    key_cache_seconds: float = Field(default=5.0, gt=0, le=5.0)
    # How long the upstream Groq key may be served from memory before Secrets Manager is asked
    # again; an upstream 401 forces a fresh read at once.
    upstream_key_cache_seconds: float = Field(default=60.0, gt=0)
    upstream_timeout_seconds: float = Field(default=120.0, gt=0)
    upstream_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # Retries of an upstream 429/5xx/timeout, and the time they may take in all.
    upstream_max_retries: int = Field(default=2, ge=0, le=5)
    upstream_retry_budget_seconds: float = Field(default=20.0, ge=0)
    # A transcription by `url` has no length until Groq answers: this much audio is reserved
    # against caps (settled to the real duration); 0 = no bound, and then keys under a
    # spending cap (key, team or organisation) may not transcribe by url.
    max_url_audio_seconds: int = Field(default=7200, ge=0, le=86_400)
    # The output limit set on a chat completion or response that names none, and reserved
    # for it (less where the key's or team's tokens per minute leave less): Groq never
    # produces more than was reserved against limits and caps.
    default_max_completion_tokens: int = Field(default=1024, ge=1, le=131_072)
    # Models without a price of their kind (groq_gateway.core.pricing): "charge" them at the
    # fallback price (flagged estimated and unpriced) or "refuse" them before admission. The
    # fallback is the highest price of each kind in the effective price data unless these
    # prices (JSON, ModelPrice's fields) say otherwise.
    unpriced_models: UnpricedPolicy = UnpricedPolicy.CHARGE
    unpriced_fallback_prices: ModelPrice = Field(default_factory=ModelPrice)
    # How old an instance's copy of the operator's prices (the table's) may grow before the
    # proxy re-reads them after a response (docs/operations.md#setting-a-price).
    price_refresh_seconds: float = Field(default=60.0, gt=0, le=3600)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = {
            "table_name": "TABLE_NAME",
            "upstream_base_url": "UPSTREAM_BASE_URL",
            "upstream_key_secret_id": "UPSTREAM_KEY_SECRET_ID",
            "admin_key_secret_id": "ADMIN_KEY_SECRET_ID",
            "webhook_secret_id": "WEBHOOK_SECRET_ID",
            "alerts_topic_arn": "ALERTS_TOPIC_ARN",
            "key_secret_prefix": "KEY_SECRET_PREFIX",
            "org_monthly_cap_usd": "ORG_MONTHLY_CAP_USD",
            "org_lease_usd": "ORG_LEASE_USD",
            "org_lease_seconds": "ORG_LEASE_SECONDS",
            "org_lease_grace_seconds": "ORG_LEASE_GRACE_SECONDS",
            "admin_iam_full_arns": "ADMIN_IAM_FULL_ARNS",
            "admin_iam_read_only_arns": "ADMIN_IAM_READ_ONLY_ARNS",
            "billing_timezone": "BILLING_TIMEZONE",
            "stage": "STAGE",
            "key_cache_seconds": "KEY_CACHE_SECONDS",
            "upstream_key_cache_seconds": "UPSTREAM_KEY_CACHE_SECONDS",
            "upstream_timeout_seconds": "UPSTREAM_TIMEOUT_SECONDS",
            "upstream_connect_timeout_seconds": "UPSTREAM_CONNECT_TIMEOUT_SECONDS",
            "upstream_max_retries": "UPSTREAM_MAX_RETRIES",
            "upstream_retry_budget_seconds": "UPSTREAM_RETRY_BUDGET_SECONDS",
            "max_url_audio_seconds": "MAX_URL_AUDIO_SECONDS",
            "default_max_completion_tokens": "DEFAULT_MAX_COMPLETION_TOKENS",
            "unpriced_models": "UNPRICED_MODELS",
            "unpriced_fallback_prices": "UNPRICED_FALLBACK_PRICES",
            "price_refresh_seconds": "PRICE_REFRESH_SECONDS",
        }
        values = {field: env[var] for field, var in names.items() if env.get(var)}
        return cls.model_validate(values)

    @field_validator("admin_iam_full_arns", "admin_iam_read_only_arns", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``"arn:a, arn:b"`` -> ``("arn:a", "arn:b")``; other shapes are validated as given."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("unpriced_fallback_prices", mode="before")
    @classmethod
    def _json_prices(cls, value: object) -> object:
        """``'{"input_per_million": "1"}'`` (the environment's JSON) -> its fields."""
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("billing_timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        if name != "UTC":
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(f"unknown timezone {name!r}") from error
        return name

    @property
    def billing_tz(self) -> tzinfo:
        return UTC if self.billing_timezone == "UTC" else ZoneInfo(self.billing_timezone)

    @property
    def org_cap_micros(self) -> int | None:
        """The organisation's monthly cap in micro-dollars; ``None`` when it is 0 (no cap)."""
        return usd_to_micros(self.org_monthly_cap_usd) or None

    @property
    def org_lease_micros(self) -> int:
        """The size of one organisation budget lease in micro-dollars; 0 when leases are off
        (also when there is no organisation cap: nothing to lease)."""
        if self.org_cap_micros is None:
            return 0
        return usd_to_micros(self.org_lease_usd)

    @property
    def upstream_root(self) -> str:
        """The upstream host root without a trailing slash, e.g. ``https://api.groq.com``."""
        return str(self.upstream_base_url).rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings.from_env()
