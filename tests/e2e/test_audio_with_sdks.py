"""Audio through `groq-gateway dev` with the official SDKs (issue #18, findings 3 and 4): the
formats the client asks for come back as asked, while Groq is asked for verbose_json and the
audio metered by its real duration, by upload and by url."""

from __future__ import annotations

import io
import time
from decimal import Decimal

import groq
import openai
import pytest

from groq_gateway.core.periods import utcnow
from tests.e2e.conftest import DevGateway
from tests.e2e.test_sdks_through_dev_gateway import create_key

TURBO, LARGE = "whisper-large-v3-turbo", "whisper-large-v3"


def key_id_of(plaintext: str) -> str:
    return plaintext.split("_")[1]


def metered_seconds(gateway: DevGateway, key: str, requests: int) -> Decimal:
    today = utcnow().strftime("%Y-%m-%d")
    deadline = time.monotonic() + 5
    while True:
        days = list(gateway.store().usage.for_key(key_id_of(key), today, today))
        if sum(d.requests for d in days) >= requests or time.monotonic() > deadline:
            assert sum(d.requests for d in days) == requests
            assert all(d.estimated_requests == 0 for d in days)
            return sum((d.audio_seconds for d in days), Decimal(0))
        time.sleep(0.05)


def test_every_transcript_format_through_the_openai_sdk(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway, allowed_models=[TURBO])
    client = openai.OpenAI(base_url=f"{dev_gateway.base_url}/openai/v1", api_key=key, max_retries=0)
    audio = ("speech.mp3", io.BytesIO(b"\x01" * 32_000))  # 2 s in the simulator
    as_json = client.audio.transcriptions.create(file=audio, model=TURBO)
    assert as_json.text.startswith("Simulated transcription")
    as_text = client.audio.transcriptions.create(file=audio, model=TURBO, response_format="text")
    assert isinstance(as_text, str)
    assert as_text.startswith("Simulated transcription")
    verbose = client.audio.transcriptions.create(
        file=audio, model=TURBO, response_format="verbose_json"
    )
    assert verbose.duration == 2.0
    with pytest.raises(openai.PermissionDeniedError):
        client.audio.transcriptions.create(file=audio, model=LARGE)
    assert metered_seconds(dev_gateway, key, 3) == Decimal(6)


def test_a_url_transcription_through_the_groq_sdk_is_metered_by_its_length(
    dev_gateway: DevGateway,
) -> None:
    key = create_key(dev_gateway, monthly_budget_usd=5)
    client = groq.Groq(base_url=dev_gateway.base_url, api_key=key, max_retries=0)
    result = client.audio.transcriptions.create(
        url="https://example.com/talk.mp3?duration=36000", model=LARGE
    )
    assert result.text
    assert metered_seconds(dev_gateway, key, 1) == Decimal(36000)
    tight = create_key(dev_gateway, monthly_budget_usd=0.01)
    with pytest.raises(groq.RateLimitError) as refused:
        groq.Groq(
            base_url=dev_gateway.base_url, api_key=tight, max_retries=0
        ).audio.translations.create(url="https://example.com/talk.mp3?duration=36000", model=LARGE)
    assert "spending_cap_reached" in str(refused.value)
