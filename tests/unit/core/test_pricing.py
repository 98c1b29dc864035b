from __future__ import annotations

import json
from decimal import Decimal

import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.pricing import (
    Cost,
    ModelPrice,
    PriceBook,
    PriceKind,
    PriceSource,
    UnpricedPolicy,
)


@pytest.fixture
def book() -> PriceBook:
    return PriceBook.load(overrides="")


def test_token_cost_is_micro_dollars_rounded_up(book: PriceBook) -> None:
    # 1000 input tokens at $0.075/M plus 200 output at $0.30/M = $0.000135
    assert book.token_cost("openai/gpt-oss-20b", 1000, 200).micros == 135
    # A single token still costs something: rounding never goes below Groq's bill.
    assert book.token_cost("llama-3.1-8b-instant", 1, 0).micros == 1


def test_audio_is_priced_per_second(book: PriceBook) -> None:
    # $0.111 per hour: one hour is 111,000 micro-dollars; one second rounds up to 31.
    assert book.audio_cost("whisper-large-v3", Decimal(3600)).micros == 111_000
    assert book.audio_cost("whisper-large-v3", Decimal(1)).micros == 31


def test_unknown_model_is_unpriced_not_free(book: PriceBook) -> None:
    cost = book.token_cost("some/new-model", 10, 10)
    assert cost.unpriced
    assert book.audio_cost("openai/gpt-oss-20b", Decimal(5)).unpriced


def test_overrides_replace_and_add_prices() -> None:
    overrides = {
        "models": {
            "openai/gpt-oss-20b": {"input_per_million": "1", "output_per_million": "2"},
            "some/new-model": {"input_per_million": "3", "output_per_million": "3"},
        }
    }
    book = PriceBook.load(overrides=json.dumps(overrides))
    assert book.token_cost("openai/gpt-oss-20b", 1000, 1000).micros == 3000
    assert not book.token_cost("some/new-model", 1, 1).unpriced
    assert book.token_cost("openai/gpt-oss-120b", 1000, 0).micros == 150


def test_a_malformed_override_is_refused() -> None:
    with pytest.raises(ValueError, match="input_per_million"):
        PriceBook.load(overrides='{"m": {"input_per_million": "-1"}}')


def test_batch_is_priced_at_groqs_published_discount(book: PriceBook) -> None:
    # Groq's Batch API: 50% off. 1000 input at $0.075/M plus 200 output at $0.30/M = 135
    # micro-dollars at the real-time price, 67.5 (rounded up: 68) at the batch price.
    assert book.batch_discount == Decimal("0.50")
    assert book.token_cost("openai/gpt-oss-20b", 1000, 200, batch=True) == Cost(68, False)
    assert book.token_cost("openai/gpt-oss-120b", 10_000, 0, batch=True).micros == 750


def test_the_batch_discount_and_batch_prices_are_data_an_operator_changes() -> None:
    overrides = {
        "batch_discount": "0.25",
        "models": {
            "openai/gpt-oss-20b": {
                "input_per_million": "1",
                "output_per_million": "2",
                "batch_input_per_million": "0.1",
                "batch_output_per_million": "0.2",
            }
        },
    }
    book = PriceBook.load(overrides=json.dumps(overrides))
    # A model's own batch prices win over the discount ...
    assert book.token_cost("openai/gpt-oss-20b", 1000, 1000, batch=True).micros == 300
    # ... and the discount applies to the others: $0.15/M less 25% for 10,000 tokens.
    assert book.token_cost("openai/gpt-oss-120b", 10_000, 0, batch=True).micros == 1125


def test_an_unpriced_model_is_charged_the_highest_price_of_its_kind(book: PriceBook) -> None:
    # Tokens: the highest input ($0.60/M, qwen/qwen3.6-27b) and output ($3.00/M) in the data.
    cost = book.token_cost("some/new-model", 1000, 1000)
    assert cost == Cost(600 + 3000, unpriced=True)
    assert book.fallback_price(PriceKind.TOKENS) == ModelPrice(
        input_per_million=Decimal("0.60"), output_per_million=Decimal("3.00")
    )
    # A batch for an unpriced model: the fallback at the batch discount.
    assert book.token_cost("some/new-model", 1000, 1000, batch=True) == Cost(1800, True)
    # Transcription: the highest per audio hour ($0.111, whisper-large-v3).
    assert book.audio_cost("new/whisper", Decimal(3600)) == Cost(111_000, unpriced=True)
    # A chat model has no transcription price: the same fallback.
    assert book.audio_cost("openai/gpt-oss-20b", Decimal(3600)) == Cost(111_000, True)


def test_speech_never_costs_nothing(book: PriceBook) -> None:
    # No speech price is shipped: the floor, $50 per million characters, applies.
    assert book.speech_cost("canopylabs/orpheus-v1-english", 100) == Cost(5000, unpriced=True)
    assert book.speech_cost("canopylabs/orpheus-v1-english", 1).micros == 50
    # With speech prices in the data, the highest of them when above the floor.
    priced = book.with_operator_prices(
        {
            "tts/a": ModelPrice(per_million_characters=Decimal("22")),
            "tts/b": ModelPrice(per_million_characters=Decimal("80")),
        }
    )
    assert priced.speech_cost("tts/a", 1000) == Cost(22_000, unpriced=False)
    assert priced.speech_cost("tts/new", 1000) == Cost(80_000, unpriced=True)


def test_the_fallback_is_configurable() -> None:
    book = PriceBook.load(
        overrides="",
        fallback=ModelPrice(input_per_million=Decimal(10), per_million_characters=Decimal(1)),
    )
    # Configured input price, highest output in the data ($3.00/M).
    assert book.token_cost("some/new-model", 1000, 1000) == Cost(10_000 + 3000, True)
    assert book.speech_cost("tts/x", 1000) == Cost(1000, unpriced=True)


def test_operator_prices_override_and_report_their_source(book: PriceBook) -> None:
    deployment = PriceBook.load(
        overrides=json.dumps(
            {"openai/gpt-oss-120b": {"input_per_million": "1", "output_per_million": "1"}}
        )
    )
    operator = deployment.with_operator_prices(
        {
            "openai/gpt-oss-20b": ModelPrice(
                input_per_million=Decimal(2), output_per_million=Decimal(2)
            )
        }
    )
    sources = {p.model: p.source for p in operator.effective()}
    assert sources["openai/gpt-oss-20b"] is PriceSource.OPERATOR
    assert sources["openai/gpt-oss-120b"] is PriceSource.DEPLOYMENT
    assert sources["llama-3.1-8b-instant"] is PriceSource.SHIPPED
    assert operator.token_cost("openai/gpt-oss-20b", 1000, 0).micros == 2000
    # Replacing the operator's prices (one deleted) restores the deployment's price.
    again = operator.with_operator_prices({})
    assert again.token_cost("openai/gpt-oss-20b", 1000, 0).micros == 75
    assert {p.model: p.source for p in again.effective()}["openai/gpt-oss-20b"] is (
        PriceSource.SHIPPED
    )


def test_refuse_policy_refuses_unpriced_models_before_admission() -> None:
    book = PriceBook.load(overrides="", policy=UnpricedPolicy.REFUSE)
    assert book.admit("openai/gpt-oss-20b", book.token_cost("openai/gpt-oss-20b", 1, 1)) == 1
    with pytest.raises(GatewayError) as refused:
        book.admit("some/new-model", book.token_cost("some/new-model", 1, 1))
    assert refused.value.status == 403
    assert refused.value.code == "model_unpriced"
    assert "some/new-model" in refused.value.message
    assert "groq-gateway prices set" in refused.value.message
    charging = PriceBook.load(overrides="")
    assert charging.admit("some/new-model", charging.token_cost("some/new-model", 1, 1)) == 4


@pytest.mark.parametrize("value", ["1e999999", "10000.01", "0.0000001", "NaN", "-0.1"])
def test_a_price_is_bounded_so_costs_stay_exact(value: str) -> None:
    with pytest.raises(ValueError, match="per_audio_hour"):
        ModelPrice.model_validate({"per_audio_hour": value})


def test_the_batch_discount_alone_is_a_valid_override() -> None:
    book = PriceBook.load(overrides='{"batch_discount": "0.25"}')
    assert book.batch_discount == Decimal("0.25")
    assert book.token_cost("openai/gpt-oss-120b", 10_000, 0, batch=True).micros == 1125
