"""Prices as data: Groq's published prices, overridable per deployment. Costs are micro-dollars
rounded up; a model without a price is metered in tokens and flagged ``unpriced``, never free.

Example::

    PriceBook.load().token_cost("openai/gpt-oss-20b", prompt_tokens=1000, completion_tokens=200)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groq_gateway.core.money import usd_to_micros


class ModelPrice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: Decimal | None = Field(default=None, ge=0)
    output_per_million: Decimal | None = Field(default=None, ge=0)
    per_audio_hour: Decimal | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class Cost:
    micros: int
    unpriced: bool


class PriceBook:
    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, overrides: str | None = None) -> PriceBook:
        """The packaged prices, ``overrides`` (JSON; default ``$PRICE_OVERRIDES``) over them."""
        packaged = json.loads(
            resources.files("groq_gateway.core").joinpath("data/prices.json").read_text()
        )
        models: dict[str, Any] = dict(packaged["models"])
        raw = overrides if overrides is not None else os.environ.get("PRICE_OVERRIDES", "")
        if raw.strip():
            extra = json.loads(raw)
            models.update(extra.get("models", extra))
        return cls({name: ModelPrice.model_validate(p) for name, p in models.items()})

    def token_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> Cost:
        price = self.prices.get(model)
        if price is None or price.input_per_million is None or price.output_per_million is None:
            return Cost(0, unpriced=True)
        # Price per million tokens times tokens is, exactly, micro-dollars.
        usd_micros = (
            price.input_per_million * prompt_tokens + price.output_per_million * completion_tokens
        )
        return Cost(math.ceil(usd_micros), unpriced=False)

    def audio_cost(self, model: str, seconds: Decimal) -> Cost:
        price = self.prices.get(model)
        if price is None or price.per_audio_hour is None:
            return Cost(0, unpriced=True)
        return Cost(usd_to_micros(price.per_audio_hour * seconds / 3600), unpriced=False)


@lru_cache(maxsize=1)
def default_price_book() -> PriceBook:
    return PriceBook.load()
