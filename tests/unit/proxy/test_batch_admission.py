"""A batch's admission, in memory: its lines checked against the key's rights, and its worst
case (at Groq's batch price) reserved on the months of the scopes with a cap, never a minute
window."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from groq_gateway.core.batches import FileRecord
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.limits import Scope
from groq_gateway.core.money import usd_to_micros
from groq_gateway.core.pricing import PriceBook, UnpricedPolicy
from groq_gateway.core.records import EndpointGroup, GatewayKey, Team
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.batches import BatchesAndFiles, read_batch_input
from groq_gateway.proxy.policy import Principal

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
GPT, SMALL, WHISPER = "openai/gpt-oss-120b", "openai/gpt-oss-20b", "whisper-large-v3"
GROUPS = [EndpointGroup.CHAT, EndpointGroup.FILES, EndpointGroup.BATCHES]


def principal(team_budget: Decimal | None = None, **fields: Any) -> Principal:
    values: dict[str, Any] = {
        "key_id": "k" * 16,
        "name": "app",
        "team_id": "chatbot",
        "allowed_endpoints": GROUPS,
        "created_at": NOW,
        "updated_at": NOW,
        "secrets": [],
    }
    values.update(fields)
    team = Team(team_id="chatbot", monthly_budget_usd=team_budget, created_at=NOW, updated_at=NOW)
    return Principal(GatewayKey.model_validate(values), team)


def batches(prices: PriceBook | None = None, **settings: Any) -> BatchesAndFiles:
    book = prices or PriceBook.load()
    return BatchesAndFiles(
        settings=Settings.model_validate({"table_name": "t", **settings}),
        store=cast(Any, None),  # admission in memory reads nothing
        upstream=cast(Any, None),
        prices=lambda: book,
        count=cast(Any, None),
    )


def upload(*lines: dict[str, Any]) -> FileRecord:
    content = b"\n".join(json.dumps(line).encode() for line in lines)
    return FileRecord(
        file_id="file_1", key_id="k" * 16, created_at=NOW, batch_input=read_batch_input(content)
    )


def chat(model: str, max_tokens: int = 100) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return {"url": "/v1/chat/completions", "body": {**body, "max_tokens": max_tokens}}


def test_the_worst_case_is_reserved_at_the_batch_price_on_capped_scopes_only() -> None:
    caller = principal(team_budget=Decimal(50), monthly_budget_usd=Decimal(5))
    gateway = batches(org_monthly_cap_usd=1000)
    checked = gateway.checked_input(caller, upload(chat(GPT), chat(GPT), chat(SMALL, 10)))

    plan, models = gateway.plan(caller, checked)

    prices = PriceBook.load()
    gpt, small = checked.models[GPT], checked.models[SMALL]
    worst = (
        prices.token_cost(GPT, gpt.prompt_tokens, gpt.completion_tokens, batch=True).micros
        + prices.token_cost(SMALL, small.prompt_tokens, small.completion_tokens, batch=True).micros
    )
    assert models == [GPT, SMALL]
    assert plan.windows == ()
    assert [(r.scope, r.micros, r.cap_micros) for r in plan.reservations] == [
        (Scope.KEY, worst, usd_to_micros(Decimal(5))),
        (Scope.TEAM, worst, usd_to_micros(Decimal(50))),
        (Scope.ORG, worst, usd_to_micros(Decimal(1000))),
    ]
    assert worst < prices.token_cost(GPT, 0, 200).micros + prices.token_cost(SMALL, 0, 10).micros


def test_without_any_cap_nothing_is_counted() -> None:
    caller = principal()
    gateway = batches()
    plan, _ = gateway.plan(caller, gateway.checked_input(caller, upload(chat(GPT))))

    assert plan.is_empty


def test_audio_lines_reserve_the_configured_longest_audio_each() -> None:
    caller = principal(monthly_budget_usd=Decimal(5), allowed_endpoints=[*GROUPS, "audio"])
    line = {"url": "/v1/audio/transcriptions", "body": {"model": WHISPER, "url": "https://a"}}
    gateway = batches(max_url_audio_seconds=600)

    plan, _ = gateway.plan(caller, gateway.checked_input(caller, upload(line, line)))

    expected = PriceBook.load().audio_cost(WHISPER, Decimal(1200)).micros
    assert [r.micros for r in plan.reservations] == [expected]


def test_audio_lines_without_a_bound_are_refused_under_a_cap() -> None:
    caller = principal(monthly_budget_usd=Decimal(5), allowed_endpoints=[*GROUPS, "audio"])
    line = {"url": "/v1/audio/translations", "body": {"model": WHISPER, "url": "https://a"}}
    gateway = batches(max_url_audio_seconds=0)

    with pytest.raises(GatewayError) as refused:
        gateway.plan(caller, gateway.checked_input(caller, upload(line)))
    assert refused.value.status == 400


def test_a_model_without_a_price_is_refused_where_the_deployment_says_so() -> None:
    caller = principal(monthly_budget_usd=Decimal(5))
    gateway = batches(PriceBook.load(policy=UnpricedPolicy.REFUSE))

    with pytest.raises(GatewayError) as refused:
        gateway.plan(caller, gateway.checked_input(caller, upload(chat("new/model"))))
    assert refused.value.code == "model_unpriced"


def test_a_model_without_a_price_is_never_free() -> None:
    caller = principal(monthly_budget_usd=Decimal(5))
    gateway = batches()

    plan, _ = gateway.plan(caller, gateway.checked_input(caller, upload(chat("new/model"))))

    assert plan.reservations[0].micros > 0


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (chat(GPT), "model_not_available"),
        (
            {
                "url": "/v1/responses",
                "body": {"model": SMALL, "input": "hi", "max_output_tokens": 9},
            },
            "endpoint_not_allowed",
        ),
    ],
)
def test_lines_the_key_may_not_run_are_refused(line: dict[str, Any], code: str) -> None:
    caller = principal(allowed_models=[SMALL])

    with pytest.raises(GatewayError) as refused:
        batches().checked_input(caller, upload(chat(SMALL), line))
    assert (refused.value.status, refused.value.code) == (403, code)


def test_the_team_alias_does_not_apply_to_lines_forwarded_unchanged() -> None:
    caller = principal(allowed_models=[SMALL])
    aliased = Principal(
        caller.key,
        Team(team_id="chatbot", model_aliases={GPT: SMALL}, created_at=NOW, updated_at=NOW),
    )

    with pytest.raises(GatewayError) as refused:
        batches().checked_input(aliased, upload(chat(GPT)))
    assert refused.value.code == "model_not_available"
