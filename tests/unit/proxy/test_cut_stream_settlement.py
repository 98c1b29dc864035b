"""What a stream cut short before Groq's usage is metered as (issue #18, finding 11): never
below what was relayed, and all Groq was asked to produce unless Groq said it had finished."""

from __future__ import annotations

from typing import Any

import pytest

from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.budget_leases import OrgBudgetLeases
from groq_gateway.proxy.forward import Forward
from groq_gateway.proxy.policy import Principal
from groq_gateway.proxy.settlement import Settlement
from groq_gateway.proxy.usage_tap import ObservedUsage
from tests.integration.test_store import new_key_with_plaintext

MODEL = "openai/gpt-oss-20b"


@pytest.fixture
def settlement() -> Settlement:
    store: Any = None  # usage_record reads no store
    return Settlement(
        settings=Settings(table_name="t"),
        store=store,
        prices=PriceBook.load(overrides=""),
        org_leases=OrgBudgetLeases(0, 60),
    )


def forward(max_tokens: int) -> Forward:
    return Forward(
        body=b"{}", model=MODEL, stream=True, prompt_tokens=20, completion_tokens=max_tokens
    )


def metered(
    settlement: Settlement, max_tokens: int, observed: ObservedUsage
) -> tuple[int, int, bool]:
    key, _ = new_key_with_plaintext()
    usage = settlement.usage_record(Principal(key=key, team=None), forward(max_tokens), observed)
    assert usage is not None
    return usage.prompt_tokens, usage.completion_tokens, usage.estimated


def test_a_client_that_read_every_token_but_not_the_usage_is_metered_what_it_read(
    settlement: Settlement,
) -> None:
    """The issue's case: 150 tokens read, the client gone before the usage chunk (metered 89,
    from 4 characters a token, before the fix)."""
    read_all = ObservedUsage(content_chars=356, content_events=150, generation_ended=True)
    assert metered(settlement, 1024, read_all) == (20, 150, True)


def test_a_client_gone_before_the_first_byte_is_metered_all_groq_was_asked_for(
    settlement: Settlement,
) -> None:
    """The issue's case: gone before the first byte while Groq generated 6,000 tokens
    (metered 91 before the fix: the prompt alone)."""
    assert metered(settlement, 6000, ObservedUsage()) == (20, 6000, True)


def test_never_below_what_was_relayed(settlement: Settlement) -> None:
    beyond = ObservedUsage(content_chars=4000, content_events=900)
    assert metered(settlement, 100, beyond) == (20, 900, True)
    ended = ObservedUsage(content_chars=4000, content_events=10, generation_ended=True)
    assert metered(settlement, 6000, ended) == (20, 1000, True)  # 4 characters a token
    assert metered(settlement, 50, ended) == (20, 50, True)  # but never past the limit


def test_groqs_usage_when_it_came(settlement: Settlement) -> None:
    exact = ObservedUsage(prompt_tokens=12, completion_tokens=3, content_events=3)
    assert metered(settlement, 6000, exact) == (12, 3, False)
