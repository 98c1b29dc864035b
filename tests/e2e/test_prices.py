"""Models without a price cost something against a cap, and operators price them with the CLI,
through `groq-gateway dev` and the official SDK (issue #18, finding 2)."""

from __future__ import annotations

import time

import openai
import pytest

from tests.e2e.conftest import DevGateway
from tests.e2e.test_cli import as_json, assert_one_line_error, cli
from tests.e2e.test_sdks_through_dev_gateway import create_key, openai_client
from tests.e2e.test_streaming_and_faults import key_id_of, today
from tests.reliability_report import RELIABILITY

SPEECH_MODEL = "canopylabs/orpheus-v1-english"  # Groq serves it; no price is shipped


def test_a_zero_budget_refuses_speech_from_a_model_without_a_price(
    dev_gateway: DevGateway,
) -> None:
    # Before: five of these succeeded at $0 each, flagged unpriced.
    client = openai_client(dev_gateway, create_key(dev_gateway, monthly_budget_usd="0"))
    for _ in range(5):
        with pytest.raises(openai.RateLimitError) as capped:
            client.audio.speech.create(model=SPEECH_MODEL, voice="troy", input="Hello there")
        assert capped.value.code == "spending_cap_reached"


def test_speech_from_a_model_without_a_price_is_charged_and_flagged(
    dev_gateway: DevGateway,
) -> None:
    key = create_key(dev_gateway, monthly_budget_usd="1")
    client = openai_client(dev_gateway, key)
    for _ in range(2):
        speech = client.audio.speech.create(model=SPEECH_MODEL, voice="troy", input="Hello there")
        assert speech.content  # audio bytes
    RELIABILITY.count_money("unpriced requests charged", 2)
    deadline = time.monotonic() + 5  # settled after the response
    while True:
        days = list(dev_gateway.store().usage.for_key(key_id_of(key), today(), today()))
        if sum(d.requests for d in days) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    [used] = days
    assert (used.model, used.requests, used.unpriced_requests) == (SPEECH_MODEL, 2, 2)
    assert used.cost_micros == 2 * 50 * len("Hello there")  # $50 per million characters


def test_prices_set_list_and_delete_with_the_cli(dev_gateway: DevGateway) -> None:
    model = "canopylabs/orpheus-arabic-saudi"
    try:
        done = cli(dev_gateway, "prices", "set", model, "--speech", "40")
        assert done.stdout == f"Set the price of {model}: per_million_characters $40.\n"
        listed = as_json(cli(dev_gateway, "prices", "list", "--json"))
        [price] = [p for p in listed["data"] if p["model"] == model]
        assert (price["source"], price["per_million_characters"]) == ("operator", "40")
        table = cli(dev_gateway, "prices", "list").stdout
        assert "MODEL" in table
        assert any(line.split()[:2] == [model, "operator"] for line in table.splitlines())
        assert "Models without a price: charge" in table

        nothing = cli(dev_gateway, "prices", "set", model, ok=False)
        assert nothing.returncode == 2
        half = cli(dev_gateway, "prices", "set", model, "--input", "1", ok=False)
        assert_one_line_error(half, "HTTP 422")
    finally:
        deleted = cli(dev_gateway, "prices", "delete", model)
    assert deleted.stdout == f"Deleted the price of {model}; it has no price now (the fallback).\n"
    gone = cli(dev_gateway, "prices", "delete", model, ok=False)
    assert_one_line_error(gone, "HTTP 404")
