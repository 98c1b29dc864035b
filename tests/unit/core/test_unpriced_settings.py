"""The unpriced-model settings as the environment gives them (template.yaml's UnpricedModels and
UnpricedFallbackPrices parameters)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from groq_gateway.core.pricing import ModelPrice, PriceBook, PriceKind, UnpricedPolicy
from groq_gateway.core.settings import Settings

BASE = {"TABLE_NAME": "gateway"}


def test_the_defaults_charge_at_the_highest_price_of_each_kind() -> None:
    settings = Settings.from_env(BASE | {"UNPRICED_MODELS": "", "UNPRICED_FALLBACK_PRICES": ""})
    assert settings.unpriced_models is UnpricedPolicy.CHARGE
    assert settings.unpriced_fallback_prices == ModelPrice()
    assert settings.price_refresh_seconds == 60


def test_the_environment_sets_the_policy_and_the_fallback() -> None:
    settings = Settings.from_env(
        BASE
        | {
            "UNPRICED_MODELS": "refuse",
            "UNPRICED_FALLBACK_PRICES": '{"input_per_million": "1", "output_per_million": "4"}',
        }
    )
    assert settings.unpriced_models is UnpricedPolicy.REFUSE
    book = PriceBook.load(overrides="", fallback=settings.unpriced_fallback_prices)
    assert book.fallback_price(PriceKind.TOKENS) == ModelPrice(
        input_per_million=Decimal(1), output_per_million=Decimal(4)
    )


@pytest.mark.parametrize(
    "environment",
    [
        {"UNPRICED_MODELS": "free"},
        {"UNPRICED_FALLBACK_PRICES": '{"input_per_million": "-1"}'},
        {"UNPRICED_FALLBACK_PRICES": '{"per_token": "1"}'},
    ],
)
def test_a_wrong_setting_is_refused_at_start(environment: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(BASE | environment)
