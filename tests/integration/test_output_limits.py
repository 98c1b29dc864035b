"""A request is never served more output than it reserved: a body without an output limit is
forwarded with the limit its reservation was made for, and a request for more than one choice
(which Groq does not generate) is refused before it costs anything."""

from __future__ import annotations

import math

import httpx
import pytest

from groq_gateway.proxy.inspection import BYTES_PER_TOKEN
from tests.integration.conftest import LocalGateway
from tests.integration.test_proxy_limits_and_metering import add_key, auth, upstream_calls

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-oss-20b"
MESSAGES = [{"role": "user", "content": "Reply in 5000 words."}]
DEFAULT_LIMIT = 1024  # the DefaultMaxCompletionTokens setting's default


async def post(gateway: LocalGateway, path: str, plaintext: str, body: object) -> httpx.Response:
    return await gateway.client.post(f"/openai/v1/{path}", json=body, headers=auth(plaintext))


async def forwarded_json(gateway: LocalGateway) -> list[dict[str, object]]:
    return [call["json"] for call in await upstream_calls(gateway)]  # type: ignore[misc]


async def test_a_chat_without_an_output_limit_is_forwarded_with_the_reserved_one(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway, monthly_budget_usd="5")
    await gateway.upstream.delete("/_simulator/requests")
    response = await post(
        gateway, "chat/completions", plaintext, {"model": MODEL, "messages": MESSAGES}
    )
    assert response.status_code == 200
    [sent] = await forwarded_json(gateway)
    assert sent["max_completion_tokens"] == DEFAULT_LIMIT
    # The model would have written 5,000 tokens; it wrote what was reserved, and no more.
    assert response.json()["usage"]["completion_tokens"] == DEFAULT_LIMIT


async def test_a_response_without_an_output_limit_gets_max_output_tokens(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway)
    await gateway.upstream.delete("/_simulator/requests")
    body = {"model": MODEL, "input": "Reply in 5000 words."}
    assert (await post(gateway, "responses", plaintext, body)).status_code == 200
    [sent] = await forwarded_json(gateway)
    assert sent["max_output_tokens"] == DEFAULT_LIMIT
    assert "max_completion_tokens" not in sent


async def test_the_default_limit_fits_the_keys_tokens_per_minute(gateway: LocalGateway) -> None:
    # What a per-minute token limit admitted without an output limit is still admitted: the
    # default shrinks to what the limit leaves after the prompt's estimate.
    _, plaintext = add_key(gateway, tokens_per_minute=600)
    await gateway.upstream.delete("/_simulator/requests")
    body = {"model": MODEL, "messages": MESSAGES}
    assert (await post(gateway, "chat/completions", plaintext, body)).status_code == 200
    [sent] = await forwarded_json(gateway)
    prompt_estimate = math.ceil(
        len(httpx.Request("POST", "/", json=body).content) / BYTES_PER_TOKEN
    )
    assert sent["max_completion_tokens"] == 600 - prompt_estimate


async def test_a_limit_the_client_set_is_forwarded_unchanged(gateway: LocalGateway) -> None:
    _, plaintext = add_key(gateway)
    await gateway.upstream.delete("/_simulator/requests")
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 9000}
    assert (await post(gateway, "chat/completions", plaintext, body)).status_code == 200
    [sent] = await forwarded_json(gateway)
    assert sent["max_tokens"] == 9000
    assert "max_completion_tokens" not in sent


@pytest.mark.parametrize("choices", [2, 0, "1", True, 1.5])
async def test_more_than_one_choice_is_refused_before_groq(
    gateway: LocalGateway, choices: object
) -> None:
    _, plaintext = add_key(gateway)
    await gateway.upstream.delete("/_simulator/requests")
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": 10, "n": choices}
    refused = await post(gateway, "chat/completions", plaintext, body)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "n"
    assert await upstream_calls(gateway) == []
    body["n"] = 1
    assert (await post(gateway, "chat/completions", plaintext, body)).status_code == 200
