"""Prices as data: Groq's published prices, the deployment's overrides over them and the
operator's prices (set through the admin API, stored in the table) over both. Costs are
micro-dollars rounded up, and a request is never free: a model without a price of its kind is
charged at a conservative fallback (the configured price, otherwise the highest price of that
kind in the effective data) and flagged ``unpriced``, or refused when the deployment says so.

Three kinds of price: tokens (per million input and output tokens, chat and responses),
transcription (per hour of audio) and speech (per million input characters). Batch jobs are
priced at ``batch_discount`` off the token price, or at a model's own batch prices.

Example::

    PriceBook.load().token_cost("openai/gpt-oss-20b", prompt_tokens=1000, completion_tokens=200)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property, lru_cache
from importlib import resources
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.money import usd_to_micros

SECONDS_PER_HOUR = 3600


class PriceKind(StrEnum):
    """What a model is priced by."""

    TOKENS = "tokens"
    TRANSCRIPTION = "transcription"
    SPEECH = "speech"


class PriceSource(StrEnum):
    """Where a model's effective price comes from, in rising precedence."""

    SHIPPED = "shipped"  # core/data/prices.json, Groq's published prices
    DEPLOYMENT = "deployment"  # the PriceOverrides stack parameter ($PRICE_OVERRIDES)
    OPERATOR = "operator"  # set through the admin API or the CLI, stored in the table


class UnpricedPolicy(StrEnum):
    """What a request for a model without a price of its kind gets."""

    CHARGE = "charge"  # charged at the fallback price, flagged estimated and unpriced
    REFUSE = "refuse"  # refused before admission


# A price in USD: at most $10,000 per unit and micro-dollar precision, which keeps every cost
# well inside DynamoDB's 38-digit numbers.
MAX_PRICE_USD = 10_000
Price = Annotated[Decimal, Field(ge=0, le=MAX_PRICE_USD, decimal_places=6)]


class ModelPrice(BaseModel):
    """One model's prices, USD; a kind the model is not priced by stays ``None``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: Price | None = None
    output_per_million: Price | None = None
    per_audio_hour: Price | None = None
    per_million_characters: Price | None = None
    # Batch API prices per million tokens; absent: the token price less ``batch_discount``.
    batch_input_per_million: Price | None = None
    batch_output_per_million: Price | None = None

    def prices(self, kind: PriceKind) -> bool:
        """Whether this price covers ``kind``."""
        if kind is PriceKind.TOKENS:
            return self.input_per_million is not None and self.output_per_million is not None
        if kind is PriceKind.TRANSCRIPTION:
            return self.per_audio_hour is not None
        return self.per_million_characters is not None


# Model ids a price may be set for: Groq's ids (``openai/gpt-oss-20b``), nothing else.
MODEL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$"


class OperatorPrice(BaseModel):
    """A price an operator set for one model at run time (stored in the table)."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(pattern=MODEL_ID_PATTERN)
    price: ModelPrice
    updated_at: datetime
    updated_by: str


# The top-level keys of a pricing document; any other key of an override is a model id.
DOCUMENT_KEYS = frozenset({"models", "batch_discount", "fallback_floor"})


class PricingDocument(BaseModel):
    """The shape of ``prices.json`` and of the ``PriceOverrides`` parameter."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    batch_discount: Decimal | None = Field(default=None, ge=0, le=1)
    fallback_floor: ModelPrice = field(default_factory=ModelPrice)
    models: dict[str, ModelPrice] = {}


@dataclass(frozen=True)
class FallbackPrices:
    """What a model without a price of each kind is charged, USD."""

    input_per_million: Decimal
    output_per_million: Decimal
    per_audio_hour: Decimal
    per_million_characters: Decimal


@dataclass(frozen=True)
class Cost:
    """A cost in micro-dollars; ``unpriced``: charged at the fallback price, an estimate."""

    micros: int
    unpriced: bool


@dataclass(frozen=True)
class EffectivePrice:
    """A model's price as the gateway applies it, and where it comes from."""

    model: str
    price: ModelPrice
    source: PriceSource


@dataclass(frozen=True)
class PriceBook:
    """The effective prices and what is charged for a model without one.

    ``fallback`` holds prices configured for unpriced models (``UnpricedFallbackPrices``); a
    kind it leaves empty falls back to the highest price of that kind in ``prices``, never
    below ``fallback_floor`` (shipped: speech, of which no price is shipped).
    """

    prices: Mapping[str, ModelPrice]
    sources: Mapping[str, PriceSource] = field(default_factory=dict)
    batch_discount: Decimal = Decimal("0.5")
    fallback: ModelPrice = field(default_factory=ModelPrice)
    fallback_floor: ModelPrice = field(default_factory=ModelPrice)
    policy: UnpricedPolicy = UnpricedPolicy.CHARGE
    # The deployment's prices without the operator's (what with_operator_prices layers on).
    base: Mapping[str, ModelPrice] | None = None

    @classmethod
    def load(
        cls,
        overrides: str | None = None,
        *,
        fallback: ModelPrice | None = None,
        policy: UnpricedPolicy = UnpricedPolicy.CHARGE,
    ) -> PriceBook:
        """The packaged prices, ``overrides`` (JSON; default ``$PRICE_OVERRIDES``) over them.

        ``overrides`` is either ``{"models": {...}, "batch_discount": ..., ...}`` or, shorter,
        a bare ``{model: price}`` mapping."""
        packaged = PricingDocument.model_validate_json(
            resources.files("groq_gateway.core").joinpath("data/prices.json").read_text()
        )
        models = dict(packaged.models)
        sources = dict.fromkeys(models, PriceSource.SHIPPED)
        batch_discount = packaged.batch_discount
        floor = packaged.fallback_floor
        raw = overrides if overrides is not None else os.environ.get("PRICE_OVERRIDES", "")
        if raw.strip():
            extra: dict[str, Any] = json.loads(raw)
            if DOCUMENT_KEYS & extra.keys():
                document = PricingDocument.model_validate(extra)
                batch_discount = document.batch_discount or batch_discount
                if "fallback_floor" in extra:
                    floor = document.fallback_floor
                overriding = document.models
            else:
                overriding = {name: ModelPrice.model_validate(p) for name, p in extra.items()}
            models.update(overriding)
            sources.update(dict.fromkeys(overriding, PriceSource.DEPLOYMENT))
        return cls(
            prices=models,
            sources=sources,
            batch_discount=Decimal("0.5") if batch_discount is None else batch_discount,
            fallback=fallback or ModelPrice(),
            fallback_floor=floor,
            policy=policy,
        )

    def with_operator_prices(self, operator: Mapping[str, ModelPrice]) -> PriceBook:
        """This book with the operator's prices over the deployment's (replacing any operator
        prices it had)."""
        base = self.base if self.base is not None else self.prices
        sources: dict[str, PriceSource] = {
            name: source
            for name, source in self.sources.items()
            if source is not PriceSource.OPERATOR
        }
        sources.update(dict.fromkeys(operator, PriceSource.OPERATOR))
        return replace(self, prices={**base, **operator}, sources=sources, base=base)

    def effective(self) -> list[EffectivePrice]:
        """Every priced model, by name."""
        return [
            EffectivePrice(name, price, self.sources.get(name, PriceSource.SHIPPED))
            for name, price in sorted(self.prices.items())
        ]

    def is_priced(self, model: str, kind: PriceKind) -> bool:
        price = self.prices.get(model)
        return price is not None and price.prices(kind)

    def token_cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, *, batch: bool = False
    ) -> Cost:
        """Tokens at the model's price (its batch price with ``batch``), or at the fallback."""
        price = self.prices.get(model)
        if price is None or price.input_per_million is None or price.output_per_million is None:
            unpriced = True
            input_price, output_price = self._fallback_tokens()
            batch_input = batch_output = None
        else:
            unpriced = False
            input_price, output_price = price.input_per_million, price.output_per_million
            batch_input, batch_output = (
                price.batch_input_per_million,
                price.batch_output_per_million,
            )
        if batch:
            keep = 1 - self.batch_discount
            input_price = input_price * keep if batch_input is None else batch_input
            output_price = output_price * keep if batch_output is None else batch_output
        # Price per million tokens times tokens is, exactly, micro-dollars.
        usd_micros = input_price * prompt_tokens + output_price * completion_tokens
        return Cost(math.ceil(usd_micros), unpriced=unpriced)

    def audio_cost(self, model: str, seconds: Decimal) -> Cost:
        """Transcription or translation of ``seconds`` of audio."""
        price = self.prices.get(model)
        if price is not None and price.per_audio_hour is not None:
            return Cost(usd_to_micros(price.per_audio_hour * seconds / SECONDS_PER_HOUR), False)
        per_hour = self._fallback(PriceKind.TRANSCRIPTION, "per_audio_hour")
        return Cost(usd_to_micros(per_hour * seconds / SECONDS_PER_HOUR), unpriced=True)

    def speech_cost(self, model: str, characters: int) -> Cost:
        """Speech synthesised from ``characters`` input characters."""
        price = self.prices.get(model)
        if price is not None and price.per_million_characters is not None:
            return Cost(math.ceil(price.per_million_characters * characters), unpriced=False)
        per_million = self._fallback(PriceKind.SPEECH, "per_million_characters")
        return Cost(math.ceil(per_million * characters), unpriced=True)

    def admit(self, model: str, cost: Cost) -> int:
        """The micro-dollars to reserve for a request of ``cost``; a 403 naming the model and
        the fix when it is unpriced and the deployment refuses unpriced models."""
        if cost.unpriced and self.policy is UnpricedPolicy.REFUSE:
            raise unpriced_model_refused(model)
        return cost.micros

    def fallback_prices(self) -> FallbackPrices:
        """Every kind's fallback price at once (what the admin API shows)."""
        return FallbackPrices(
            input_per_million=self._fallback(PriceKind.TOKENS, "input_per_million"),
            output_per_million=self._fallback(PriceKind.TOKENS, "output_per_million"),
            per_audio_hour=self._fallback(PriceKind.TRANSCRIPTION, "per_audio_hour"),
            per_million_characters=self._fallback(PriceKind.SPEECH, "per_million_characters"),
        )

    def fallback_price(self, kind: PriceKind) -> ModelPrice:
        """What a model without a price of ``kind`` is charged (for documentation and tests)."""
        if kind is PriceKind.TOKENS:
            input_price, output_price = self._fallback_tokens()
            return ModelPrice(input_per_million=input_price, output_per_million=output_price)
        if kind is PriceKind.TRANSCRIPTION:
            return ModelPrice(per_audio_hour=self._fallback(kind, "per_audio_hour"))
        return ModelPrice(per_million_characters=self._fallback(kind, "per_million_characters"))

    def _fallback_tokens(self) -> tuple[Decimal, Decimal]:
        return (
            self._fallback(PriceKind.TOKENS, "input_per_million"),
            self._fallback(PriceKind.TOKENS, "output_per_million"),
        )

    def _fallback(self, kind: PriceKind, field_name: str) -> Decimal:
        configured: Decimal | None = getattr(self.fallback, field_name)
        if configured is not None:
            return configured
        return self._highest[field_name]

    @cached_property
    def _highest(self) -> dict[str, Decimal]:
        """Per price field, the highest among the models priced by its kind, never below the
        floor's (computed once per book: a book is immutable)."""
        kinds = {
            "input_per_million": PriceKind.TOKENS,
            "output_per_million": PriceKind.TOKENS,
            "per_audio_hour": PriceKind.TRANSCRIPTION,
            "per_million_characters": PriceKind.SPEECH,
        }
        return {
            name: max(
                [
                    getattr(self.fallback_floor, name) or Decimal(0),
                    *(getattr(p, name) for p in self.prices.values() if p.prices(kind)),
                ]
            )
            for name, kind in kinds.items()
        }


def unpriced_model_refused(model: str) -> GatewayError:
    """403 for a model without a price when the deployment refuses unpriced models."""
    return GatewayError(
        403,
        f"The model `{model}` has no price in this gateway, and this gateway refuses models "
        "without a price. Ask an administrator to set one: `groq-gateway prices set "
        f"{model} ...` or PUT /openai/v1/prices/{model}.",
        type="permission_error",
        code="model_unpriced",
        param="model",
    )


@lru_cache(maxsize=1)
def default_price_book() -> PriceBook:
    return PriceBook.load()
