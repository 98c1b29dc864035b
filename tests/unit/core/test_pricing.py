from __future__ import annotations

import json
from decimal import Decimal

import pytest

from groq_gateway.core.pricing import PriceBook


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
