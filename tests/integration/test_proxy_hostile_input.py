"""Issue #18 through the gateway (proxy in process, moto, the simulator): the audio form's
model is the one checked and forwarded (3), transcription by url is metered by its real
duration and reserved a worst case (4), /responses reserves its largest output limit (5),
hostile input is a 400 that uses no rate-limit slot (8), Groq's rate-limit and size errors
come back in the gateway's words (13), and a model outside the allowlist is a 404 (16)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest

from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.store import GatewayStore
from groq_gateway_dev.simulator import SimulatorConfig
from groq_gateway_dev.simulator import create_app as create_simulator
from tests.conftest import UPSTREAM_KEY
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_proxy_limits_and_metering import (
    add_key,
    auth,
    chat,
    today,
    upstream_calls,
)

pytestmark = pytest.mark.anyio

TURBO, LARGE = "whisper-large-v3-turbo", "whisper-large-v3"
BOUNDARY = "b0undary"


def form_part(disposition: str, content: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"Content-Disposition: {disposition}", *headers))
    return f"--{BOUNDARY}\r\n{head}\r\n".encode() + content + b"\r\n"


def form_body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


AUDIO = form_part('form-data; name="file"; filename="a.mp3"', b"\x00" * 32_000)


async def transcribe(gateway: LocalGateway, plaintext: str, body: bytes) -> httpx.Response:
    return await gateway.client.post(
        "/openai/v1/audio/transcriptions",
        content=body,
        headers=auth(plaintext) | {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


async def forwarded_forms(gateway: LocalGateway) -> list[dict[str, object]]:
    return [call["form"] for call in await upstream_calls(gateway) if "form" in call]  # type: ignore[misc]


# -- finding 3 ------------------------------------------------------------------------------


async def test_a_decoy_part_cannot_smuggle_another_audio_model(gateway: LocalGateway) -> None:
    _, plaintext = add_key(gateway, allowed_models=[TURBO])
    decoy = form_part('form-data; name="decoy"', TURBO.encode(), 'X-Note: name="model"')
    smuggled = form_body(AUDIO, decoy, form_part("form-data; name=model", LARGE.encode()))
    refused = await transcribe(gateway, plaintext, smuggled)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "model_not_available"
    allowed = form_body(AUDIO, decoy, form_part("form-data; name=model", TURBO.encode()))
    served = await transcribe(gateway, plaintext, allowed)
    assert served.status_code == 200, served.text
    [received] = await forwarded_forms(gateway)
    assert received["fields"]["model"] == TURBO  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [
        form_body(
            AUDIO,
            form_part('form-data; name="model"', TURBO.encode()),
            form_part('form-data; name="model"', LARGE.encode()),
        ),
        form_body(AUDIO, form_part("form-data", TURBO.encode())),
        form_body(AUDIO, form_part('form-data; name="model"', TURBO.encode()))[:-4],
    ],
    ids=["two-model-parts", "part-without-name", "no-closing-boundary"],
)
async def test_ambiguous_forms_are_refused_and_never_forwarded(
    gateway: LocalGateway, body: bytes
) -> None:
    key, plaintext = add_key(gateway, allowed_models=[TURBO], requests_per_minute=1)
    response = await transcribe(gateway, plaintext, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert await upstream_calls(gateway) == []
    assert list(gateway.store.usage.for_key(key.key_id, "2000-01-01", today())) == []


# -- finding 4 ------------------------------------------------------------------------------

TEN_HOURS = "https://example.com/talk.mp3?duration=36000"


async def test_transcription_by_url_is_metered_by_its_real_duration(
    gateway: LocalGateway,
) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(10))
    for response_format, expected in (("json", "json"), ("text", "text"), (None, "json")):
        parts = [
            form_part('form-data; name="model"', LARGE.encode()),
            form_part('form-data; name="url"', TEN_HOURS.encode()),
        ]
        if response_format:
            parts.append(form_part('form-data; name="response_format"', response_format.encode()))
        response = await transcribe(gateway, plaintext, form_body(*parts))
        assert response.status_code == 200, response.text
        if expected == "text":
            assert response.headers["content-type"].startswith("text/plain")
            assert response.text.startswith("Simulated transcription")
        else:
            assert set(response.json()) == {"text", "x_groq"}  # the client's format, not Groq's
    forms = await forwarded_forms(gateway)
    assert [f["fields"]["response_format"] for f in forms] == ["verbose_json"] * 3  # type: ignore[index]
    [day] = list(gateway.store.usage.for_key(key.key_id, today(), today()))
    assert (day.requests, day.audio_seconds, day.estimated_requests) == (3, Decimal(108_000), 0)
    # 30 hours of whisper-large-v3 at $0.111 an hour: $3.33, not three seconds' worth.
    assert day.cost_micros == 3_330_000


async def test_url_transcription_reserves_the_configured_worst_case(
    gateway: LocalGateway,
) -> None:
    """The issue's case: a $0.0001 budget was admitted three times for a ten-hour recording."""
    _, plaintext = add_key(gateway, monthly_budget_usd=Decimal("0.0001"))
    body = form_body(
        form_part('form-data; name="model"', LARGE.encode()),
        form_part('form-data; name="url"', TEN_HOURS.encode()),
    )
    response = await transcribe(gateway, plaintext, body)
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "spending_cap_reached"
    assert await upstream_calls(gateway) == []


@pytest.fixture
async def unbounded_url_proxy(local_aws: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The proxy alone, deployed with MaxUrlAudioSeconds 0 (no bound for url audio)."""
    settings = gateway_settings(local_aws, max_url_audio_seconds=0)
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    proxy = create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    transport = httpx.ASGITransport(app=proxy)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as client:
        yield client


async def test_without_a_bound_url_transcription_is_refused_under_a_cap(
    local_aws: dict[str, str], unbounded_url_proxy: httpx.AsyncClient
) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    body = form_body(
        form_part('form-data; name="model"', LARGE.encode()),
        form_part('form-data; name="url"', TEN_HOURS.encode()),
    )
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    # The organisation's cap (template default $1,000) applies to every key.
    _, plaintext = add_key(SimpleNamespace(store=store))  # type: ignore[arg-type]
    response = await unbounded_url_proxy.post(
        "/openai/v1/audio/transcriptions", content=body, headers=headers | auth(plaintext)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "param": "url",
        "code": "url_audio_unbounded",
    }
    upload = form_body(AUDIO, form_part('form-data; name="model"', LARGE.encode()))
    response = await unbounded_url_proxy.post(
        "/openai/v1/audio/transcriptions", content=upload, headers=headers | auth(plaintext)
    )
    assert response.status_code == 200, response.text


# -- finding 5 ------------------------------------------------------------------------------


async def test_responses_reserve_the_largest_output_limit(gateway: LocalGateway) -> None:
    """The issue's case: admitted as 1 token, served 6,000."""
    _, plaintext = add_key(gateway, tokens_per_minute=1000)
    response = await gateway.client.post(
        "/openai/v1/responses",
        json={
            "model": "openai/gpt-oss-20b",
            "input": "Hello",
            "max_completion_tokens": 1,
            "max_output_tokens": 6000,
        },
        headers=auth(plaintext),
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert await upstream_calls(gateway) == []


# -- finding 8 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["content-type", "accept"], ids=["non-ascii-content-type", "non-ascii-accept"]
)
async def test_a_non_ascii_header_is_a_400_before_admission(
    gateway: LocalGateway, header: str
) -> None:
    key, plaintext = add_key(gateway, requests_per_minute=1)
    response = await gateway.client.post(
        "/openai/v1/chat/completions",
        content=b'{"model": "openai/gpt-oss-20b", "messages": []}',
        headers=[
            (b"authorization", f"Bearer {plaintext}".encode()),
            (header.encode(), "application/jsön".encode("latin-1")),
        ],
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_header"
    assert (await chat(gateway, plaintext)).status_code == 200  # the minute's one slot is free
    [day] = gateway.store.usage.for_key(key.key_id, today(), today())
    assert day.requests == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "openai/gpt-oss-20b", "messages": [], "stream": true, "stream_options": "x"}',
        b'{"model": "openai/gpt-oss-20b", "messages": [], "max_tokens": ' + b"9" * 5000 + b"}",
        b'{"model": "openai/gpt-oss-20b", "x": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        b'{"model": "openai/gpt-oss-20b", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["stream_options-text", "5000-digits", "5000-deep-objects", "100000-deep-arrays"],
)
async def test_hostile_json_is_a_400_never_a_500(gateway: LocalGateway, body: bytes) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(1))
    response = await gateway.client.post(
        "/openai/v1/chat/completions",
        content=body,
        headers=auth(plaintext) | {"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.committed_micros == spend.spent_micros == 0


# -- finding 13 -----------------------------------------------------------------------------


async def test_groqs_rate_limit_error_comes_back_in_the_gateways_words(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway)
    await gateway.upstream.post(
        "/_simulator/faults", json={"status": 429, "retry_after": 0, "count": 3}
    )
    response = await chat(gateway, plaintext)
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("tokens", "rate_limit_exceeded")
    assert "org_" not in response.text
    assert "organization" not in response.text
    assert "18000" not in response.text  # the organisation-wide limit
    assert "tokens per minute" in error["message"]
    assert "try again in" in error["message"]
    assert response.headers["retry-after"] == "0"


async def test_groqs_size_error_comes_back_in_the_gateways_words(gateway: LocalGateway) -> None:
    _, plaintext = add_key(gateway)  # no per-minute limit of its own: Groq's 18,000 refuses
    response = await chat(gateway, plaintext, max_tokens=20_000)
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("tokens", "rate_limit_exceeded")
    assert "org_" not in response.text
    assert "18000" not in response.text
    assert "Reduce the prompt or max_tokens" in error["message"]


# -- finding 16 -----------------------------------------------------------------------------


async def test_a_model_outside_the_allowlist_is_not_found_without_asking_groq(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway, allowed_models=["openai/gpt-oss-20b"])
    allowed = await gateway.client.get(
        "/openai/v1/models/openai/gpt-oss-20b", headers=auth(plaintext)
    )
    assert allowed.status_code == 200, allowed.text
    hidden = await gateway.client.get(
        "/openai/v1/models/openai/gpt-oss-120b", headers=auth(plaintext)
    )
    assert hidden.status_code == 404
    error = hidden.json()["error"]
    assert (error["code"], error["type"]) == ("model_not_found", "invalid_request_error")
    assert error["message"] == (
        "The model `openai/gpt-oss-120b` does not exist or you do not have access to it."
    )
    assert [c["path"] for c in await upstream_calls(gateway)] == [
        "/openai/v1/models/openai/gpt-oss-20b"
    ]


# -- finding 12 -----------------------------------------------------------------------------


class Chunks(httpx.AsyncByteStream):
    """A body arriving in 64 KB chunks, as from a socket."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), 65_536):
            yield self.body[start : start + 65_536]


def groq_answering(body: bytes) -> httpx.MockTransport:
    """An upstream that answers every request with ``body`` (a chat completion)."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return httpx.Response(200, stream=Chunks(body), headers=headers)

    return httpx.MockTransport(answer)


async def test_a_completion_over_4_mb_is_metered_from_groqs_usage(
    local_aws: dict[str, str],
) -> None:
    """Before: 0 completion tokens metered (the body was too large to keep, so its usage
    was never read)."""
    usage = {"prompt_tokens": 25, "completion_tokens": 1_300_000, "total_tokens": 1_300_025}
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "openai/gpt-oss-20b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "word " * 1_000_000}}],
        "usage": usage,
        "x_groq": {"id": "req_1"},
    }
    body = json.dumps(completion).encode()
    assert len(body) > 4 * 1024 * 1024
    settings = gateway_settings(local_aws)
    proxy = create_proxy_app(settings, upstream_transport=groq_answering(body))
    store = GatewayStore(settings.table_name)
    key, plaintext = add_key(SimpleNamespace(store=store))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=proxy), base_url="http://proxy.test"
    ) as client:
        response = await client.post(
            "/openai/v1/chat/completions",
            json={"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "go"}]},
            headers=auth(plaintext),
        )
    assert response.status_code == 200
    assert response.content == body  # relayed byte for byte
    [day] = list(store.usage.for_key(key.key_id, today(), today()))
    assert (day.prompt_tokens, day.completion_tokens, day.estimated_requests) == (25, 1_300_000, 0)
