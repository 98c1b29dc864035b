"""The proxy's limits, caps and metering, in-process against moto's server and the simulator."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.records import GatewayKey, Team, TeamStatus
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.proxy.pipeline import ALIAS_HEADER
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_store import new_key_with_plaintext
from tests.minute_window import in_one_window

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-oss-20b"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}


def add_key(gateway: LocalGateway, **fields: object) -> tuple[GatewayKey, str]:
    """A key stored directly (the admin API's own tests cover creating keys through it)."""
    key, plaintext = new_key_with_plaintext(**fields)
    gateway.store.keys.create(key)
    return key, plaintext


def add_team(gateway: LocalGateway, **fields: object) -> Team:
    now = utcnow()
    values: dict[str, object] = {"team_id": "chatbot", "created_at": now, "updated_at": now}
    values.update(fields)
    team = Team.model_validate(values)
    gateway.store.teams.create(team)
    return team


def auth(plaintext: str) -> dict[str, str]:
    return {"authorization": f"Bearer {plaintext}"}


async def chat(gateway: LocalGateway, plaintext: str, **changes: object) -> httpx.Response:
    """A chat completion; a change to ``None`` removes that field."""
    body = {k: v for k, v in (CHAT | changes).items() if v is not None}
    return await gateway.client.post(
        "/openai/v1/chat/completions", json=body, headers=auth(plaintext)
    )


async def upstream_calls(gateway: LocalGateway) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = (await gateway.upstream.get("/_simulator/requests")).json()
    return calls


def today() -> str:
    return utcnow().strftime("%Y-%m-%d")


# -- per-minute limits -----------------------------------------------------------------------


async def test_requests_per_minute_refuse_the_excess_with_openai_429(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway, requests_per_minute=3)
    await in_one_window(10)
    statuses = [(await chat(gateway, plaintext)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    await gateway.upstream.delete("/_simulator/requests")
    refused = await chat(gateway, plaintext)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"]
    assert await upstream_calls(gateway) == []


@pytest.mark.parametrize("in_team", [False, True], ids=["key-alone", "key-and-team-limits"])
async def test_remaining_headers_count_down_when_only_the_counter_item_is_written(
    gateway: LocalGateway, local_aws: dict[str, str], in_team: bool
) -> None:
    # Exact remaining counts come back from a single-item admission: the key's counter item,
    # which holds its team's limits and budgets too; without the organisation's month in the
    # same write (see README, "Rate-limit headers").
    settings = gateway_settings(local_aws, org_monthly_cap_usd=0)
    app = create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=gateway.simulator))
    team = {}
    if in_team:
        add_team(gateway, requests_per_minute=50, monthly_budget_usd=Decimal("5"))
        team = {"team_id": "chatbot", "monthly_budget_usd": Decimal("1")}
    _, plaintext = add_key(gateway, requests_per_minute=10, **team)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        responses = [
            await client.post("/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext))
            for _ in range(2)
        ]
    remaining = [int(r.headers["x-ratelimit-remaining-requests"]) for r in responses]
    assert remaining == [9, 8]
    # With the organisation cap on, an instance's first request (no budget lease yet) is
    # admitted with a transaction: limit and reset only.
    counted = await chat(gateway, plaintext)
    assert counted.headers["x-ratelimit-limit-requests"] == "10"
    assert "x-ratelimit-remaining-requests" not in counted.headers


async def test_tokens_per_minute_count_each_requests_output_limit(gateway: LocalGateway) -> None:
    # As Groq's own limit does ("Requested" in its 429 counts max_tokens), a window counts a
    # request's prompt estimate and its output limit, and keeps it: settlement does not write
    # the window back (docs/architecture.md#the-counter-item). The simulator answers with a
    # few tokens, so three requests of 400 use little, yet the fourth does not fit in 1500.
    _, plaintext = add_key(gateway, tokens_per_minute=1500)
    await in_one_window(10)
    statuses = [(await chat(gateway, plaintext, max_tokens=400)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await chat(gateway, plaintext, max_tokens=400)
    assert refused.json()["error"]["type"] == "tokens"
    oversize = await chat(gateway, plaintext, max_tokens=2000)
    assert oversize.status_code == 413
    assert oversize.json()["error"]["type"] == "tokens"


async def test_team_limits_are_shared_by_its_keys(gateway: LocalGateway) -> None:
    add_team(gateway, requests_per_minute=4)
    _, first = add_key(gateway, team_id="chatbot")
    _, second = add_key(gateway, team_id="chatbot")
    await in_one_window(10)
    results = [(await chat(gateway, plaintext)).status_code for plaintext in [first, second] * 3]
    assert results.count(200) == 4
    assert results.count(429) == 2


# -- spending caps ---------------------------------------------------------------------------


async def test_key_budget_is_a_hard_cap_that_does_not_invite_retries(
    gateway: LocalGateway,
) -> None:
    # Each request reserves about (body/4 + 8) tokens: a few micro-dollars; $0.00005 admits
    # only a handful.
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal("0.00005"))
    statuses = []
    for _ in range(20):
        response = await chat(gateway, plaintext)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "spending_cap_reached")
    assert response.headers["x-should-retry"] == "false"
    assert "resume" in error["message"]
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.spent_micros <= 50
    assert spend.committed_micros == spend.spent_micros  # nothing left reserved


async def test_spend_settles_to_the_real_cost(gateway: LocalGateway) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal("10"))
    response = await chat(gateway, plaintext)
    usage = response.json()["usage"]
    expected = gateway_cost(usage["prompt_tokens"], usage["completion_tokens"])
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.spent_micros == spend.committed_micros == expected
    org = gateway.store.counters.month_spend(Scope.ORG, "org", month_of(utcnow()))
    assert org.spent_micros == expected


def gateway_cost(prompt: int, completion: int) -> int:
    # openai/gpt-oss-20b: $0.075 / $0.30 per million tokens, in micro-dollars, rounded up.
    return math.ceil(Decimal("0.075") * prompt + Decimal("0.30") * completion)


# -- metering --------------------------------------------------------------------------------


async def test_a_chat_is_metered_once_with_groq_usage(gateway: LocalGateway) -> None:
    key, plaintext = add_key(gateway, team_id=add_team(gateway).team_id)
    body = (await chat(gateway, plaintext)).json()
    [day] = list(gateway.store.usage.for_key(key.key_id, today(), today()))
    assert (day.requests, day.prompt_tokens, day.completion_tokens) == (
        1,
        body["usage"]["prompt_tokens"],
        body["usage"]["completion_tokens"],
    )
    assert day.cost_micros == gateway_cost(day.prompt_tokens, day.completion_tokens)
    assert day.estimated_requests == day.unpriced_requests == 0
    assert day.team_id == "chatbot"
    item = gateway.store.table.get(f"KEY#{key.key_id}", f"USE#{today()}#{day.model}")
    assert item is not None
    assert "gsi1pk" not in item  # one write unit a settlement, not two


async def test_streams_are_metered_exactly_and_the_usage_chunk_stays_hidden(
    gateway: LocalGateway,
) -> None:
    key, plaintext = add_key(gateway)
    response = await chat(gateway, plaintext, stream=True)
    events = [e for e in response.text.split("\n\n") if e.startswith("data: {")]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events]
    assert all("usage" not in c for c in chunks)
    assert all(c["choices"] for c in chunks)
    forwarded = (await upstream_calls(gateway))[-1]["json"]
    assert forwarded["stream_options"] == {"include_usage": True}  # type: ignore[index]
    [day] = list(gateway.store.usage.for_key(key.key_id, today(), today()))
    groq_usage = chunks[-1]["x_groq"]["usage"]
    assert (day.prompt_tokens, day.completion_tokens) == (
        groq_usage["prompt_tokens"],
        groq_usage["completion_tokens"],
    )
    assert day.estimated_requests == 0


async def test_failed_calls_are_retried_then_not_metered(gateway: LocalGateway) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal("1"))
    await gateway.upstream.post("/_simulator/faults", json={"status": 503, "count": 1})
    recovered = await chat(gateway, plaintext)
    assert recovered.status_code == 200
    await gateway.upstream.post("/_simulator/faults", json={"status": 500, "count": 5})
    failed = await chat(gateway, plaintext)
    assert failed.status_code == 500
    assert "error" in failed.json()
    [day] = list(gateway.store.usage.for_key(key.key_id, today(), today()))
    assert day.requests == 1  # only the recovered call
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.committed_micros == spend.spent_micros == day.cost_micros


async def test_upstream_429_retry_after_is_honoured(gateway: LocalGateway) -> None:
    _, plaintext = add_key(gateway)
    await gateway.upstream.post(
        "/_simulator/faults", json={"status": 429, "count": 1, "retry_after": 0}
    )
    assert (await chat(gateway, plaintext)).status_code == 200
    stats = (await gateway.upstream.get("/_simulator/stats")).json()
    assert stats["by_status"].get("429") == 1


# -- rights ----------------------------------------------------------------------------------


async def test_team_alias_and_allowlist(gateway: LocalGateway) -> None:
    add_team(
        gateway,
        allowed_models=[MODEL],
        model_aliases={"llama-3.1-8b-instant": MODEL},
    )
    _, plaintext = add_key(gateway, team_id="chatbot", allowed_models=[MODEL, "qwen/qwen3.6-27b"])
    aliased = await chat(gateway, plaintext, model="llama-3.1-8b-instant")
    assert aliased.status_code == 200
    assert aliased.headers[ALIAS_HEADER] == f"llama-3.1-8b-instant={MODEL}"
    assert (await upstream_calls(gateway))[-1]["json"]["model"] == MODEL  # type: ignore[index]
    outside_team = await chat(gateway, plaintext, model="qwen/qwen3.6-27b")
    assert outside_team.status_code == 403
    models = await gateway.client.get("/openai/v1/models", headers=auth(plaintext))
    assert [m["id"] for m in models.json()["data"]] == [MODEL]


async def test_paused_team_and_source_address(gateway: LocalGateway) -> None:
    add_team(gateway, status=TeamStatus.PAUSED, paused_reason="budget")
    _, paused = add_key(gateway, team_id="chatbot")
    assert (await chat(gateway, paused)).status_code == 429
    _, remote_only = add_key(gateway, allowed_cidrs=["203.0.113.0/24"])
    refused = await chat(gateway, remote_only)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ip_not_allowed"
    _, local = add_key(gateway, allowed_cidrs=["127.0.0.0/8"])
    assert (await chat(gateway, local)).status_code == 200


async def test_files_need_an_explicit_endpoint_allowlist(gateway: LocalGateway) -> None:
    _, default = add_key(gateway)
    assert (await gateway.client.get("/openai/v1/files", headers=auth(default))).status_code == 403
    _, allowed = add_key(gateway, allowed_endpoints=["files"])
    assert (await gateway.client.get("/openai/v1/files", headers=auth(allowed))).status_code == 200


async def test_audio_upload_is_metered_by_duration(gateway: LocalGateway) -> None:
    key, plaintext = add_key(gateway)
    response = await gateway.client.post(
        "/openai/v1/audio/transcriptions",
        headers=auth(plaintext),
        files={"file": ("a.mp3", b"\x00" * 64_000, "audio/mpeg")},
        data={"model": "whisper-large-v3", "response_format": "verbose_json"},
    )
    assert response.status_code == 200, response.text
    duration = Decimal(str(response.json()["duration"]))
    [day] = list(gateway.store.usage.for_key(key.key_id, today(), today()))
    assert (day.model, day.audio_seconds, day.estimated_requests) == (
        "whisper-large-v3",
        duration,
        0,
    )
    assert day.cost_micros > 0


async def test_requests_that_fail_validation_are_not_counted(gateway: LocalGateway) -> None:
    key, plaintext = add_key(gateway, requests_per_minute=1)
    bad = await gateway.client.post(
        "/openai/v1/chat/completions", content=b"{", headers=auth(plaintext)
    )
    assert bad.status_code == 400
    assert (await chat(gateway, plaintext)).status_code == 200
    [day] = gateway.store.usage.for_key(key.key_id, "2000-01-01", today())
    assert day.requests == 1


def test_month_helper_is_utc() -> None:
    assert month_of(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)) == "2026-11"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'{"model": 5, "messages": []}', 400, "missing_model"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "missing_model"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [], "stream": "yes"}', 400, "invalid_type"),
        (
            b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}],'
            b' "colour": "blue"}',
            400,
            None,  # Groq's own answer, passed through: "property 'colour' is unsupported"
        ),
        (
            b'{"model": "openai/gpt-oss-20b", "pad": "' + b"x" * (11 * 1024 * 1024) + b'"}',
            413,
            "request_too_large",
        ),
    ],
)
async def test_bad_input_is_refused_in_openai_format_and_never_metered(
    gateway: LocalGateway, body: bytes, status: int, code: str | None
) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal("1"))
    response = await gateway.client.post(
        "/openai/v1/chat/completions",
        content=body,
        headers=auth(plaintext) | {"content-type": "application/json"},
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert list(gateway.store.usage.for_key(key.key_id, "2000-01-01", today())) == []
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.committed_micros == spend.spent_micros == 0
