"""Limits, caps, audio, upstream failures and revocation, as the official SDKs see them
through `groq-gateway dev`."""

from __future__ import annotations

import io
import time

import groq
import httpx
import openai
import pytest

from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import KeyStatus
from tests.e2e.conftest import DevGateway
from tests.e2e.test_sdks_through_dev_gateway import MESSAGES, MODEL, create_key
from tests.e2e.test_streaming_and_faults import key_id_of, metered_day, today
from tests.minute_window import start_in_one_window


def counting_client(gateway: DevGateway, key: str, sent: list[str], retries: int) -> openai.OpenAI:
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.url.path)]})
    return openai.OpenAI(
        base_url=f"{gateway.base_url}/openai/v1",
        api_key=key,
        max_retries=retries,
        http_client=http,
    )


def test_requests_per_minute_raise_rate_limit_error(dev_gateway: DevGateway) -> None:
    sent: list[str] = []
    client = counting_client(dev_gateway, create_key(dev_gateway, requests_per_minute=2), sent, 0)
    start_in_one_window(10)
    for _ in range(2):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert refused.value.code == "rate_limit_exceeded"
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert refused.value.response.headers["x-ratelimit-limit-requests"] == "2"


def test_spending_cap_is_final_for_the_sdk_no_retry_storm(dev_gateway: DevGateway) -> None:
    sent: list[str] = []
    key = create_key(dev_gateway, monthly_budget_usd="0.00002")
    client = counting_client(dev_gateway, key, sent, retries=2)

    def spend_until_capped() -> None:
        for _ in range(10):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    with pytest.raises(openai.RateLimitError) as capped:
        spend_until_capped()
    assert capped.value.code == "spending_cap_reached"
    assert capped.value.type == "insufficient_quota"
    # x-should-retry: false stops the SDK's own retries: one request per call, none repeated.
    admitted = sum(
        d.requests for d in dev_gateway.store().usage.for_key(key_id_of(key), today(), today())
    )
    assert len(sent) == admitted + 1


def test_groq_sdk_sees_token_limits(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway, tokens_per_minute=100)
    client = groq.Groq(base_url=dev_gateway.base_url, api_key=key, max_retries=0)
    with pytest.raises(groq.APIStatusError) as too_big:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=500)  # type: ignore[arg-type]
    assert too_big.value.status_code == 413
    client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=40)  # type: ignore[arg-type]


def test_team_models_and_aliases_through_the_sdk(dev_gateway: DevGateway) -> None:
    team = httpx.post(
        f"{dev_gateway.base_url}/openai/v1/teams",
        json={
            "id": "e2e-research",
            "allowed_models": [MODEL],
            "model_aliases": {"llama-3.1-8b-instant": MODEL},
        },
        headers={"authorization": f"Bearer {dev_gateway.admin_key}"},
    )
    assert team.status_code == 201, team.text
    key = create_key(dev_gateway, team="e2e-research")
    client = openai.OpenAI(base_url=f"{dev_gateway.base_url}/openai/v1", api_key=key, max_retries=0)
    response = client.chat.completions.with_raw_response.create(
        model="llama-3.1-8b-instant",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    assert response.headers["x-groq-gateway-model-alias"] == f"llama-3.1-8b-instant={MODEL}"
    assert response.parse().model == MODEL
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="qwen/qwen3.6-27b", messages=MESSAGES)  # type: ignore[arg-type]


def test_audio_upload_through_the_groq_sdk_is_metered(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway)
    client = groq.Groq(base_url=dev_gateway.base_url, api_key=key, max_retries=0)
    result = client.audio.transcriptions.create(
        file=("speech.mp3", io.BytesIO(b"\x01" * 48_000)),
        model="whisper-large-v3",
        response_format="verbose_json",
    )
    assert result.text
    day = metered_day(dev_gateway, key)  # settled after the response
    assert day.model == "whisper-large-v3"
    assert day.audio_seconds > 0
    assert day.cost_micros > 0


def test_upstream_failures_are_retried_then_surface_cleanly(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway)
    client = openai.OpenAI(base_url=f"{dev_gateway.base_url}/openai/v1", api_key=key, max_retries=0)
    faults = f"{dev_gateway.simulator_url}/_simulator/faults"
    httpx.post(faults, json={"status": 503, "count": 1}).raise_for_status()
    assert client.chat.completions.create(model=MODEL, messages=MESSAGES).choices  # type: ignore[arg-type]
    httpx.post(faults, json={"status": 500, "count": 3}).raise_for_status()
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    day = metered_day(dev_gateway, key)  # settled after the response
    assert day.requests == 1  # the failed call is not metered


def test_revocation_reaches_the_sdk_within_five_seconds(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway)
    client = openai.OpenAI(base_url=f"{dev_gateway.base_url}/openai/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    store = dev_gateway.store()
    stored = store.keys.get(key_id_of(key))
    assert stored is not None
    store.keys.set_status(stored, KeyStatus.REVOKED, utcnow())
    revoked_at = time.monotonic()
    while True:
        # The promise is about when a request arrives: one sent more than 5 s after the
        # revocation is refused (how long it then takes to answer depends on the machine).
        sent_at = time.monotonic()
        try:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        except openai.AuthenticationError:
            break
        assert sent_at - revoked_at < 5.2
        time.sleep(0.2)
