"""Streaming and metering through a real `groq-gateway dev` (uvicorn, real sockets)."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import DailyUsage
from tests.e2e.conftest import CHUNK_INTERVAL_MS, DevGateway
from tests.e2e.test_sdks_through_dev_gateway import MESSAGES, MODEL, create_key
from tests.reliability_report import RELIABILITY

# The simulated model writes a reply this long unless an output limit stops it first.
LONG_REPLY = [{"role": "user", "content": "Reply in 5000 words."}]


def today() -> str:
    return utcnow().strftime("%Y-%m-%d")


def key_id_of(plaintext: str) -> str:
    return plaintext.split("_")[1]


def metered_day(gateway: DevGateway, key: str) -> DailyUsage:
    """The key's one metering item of today, once the gateway has settled the request."""
    deadline = time.monotonic() + 5
    while True:
        days = list(gateway.store().usage.for_key(key_id_of(key), today(), today()))
        if days or time.monotonic() > deadline:
            [day] = days
            return day
        time.sleep(0.05)


def test_chunks_reach_the_client_as_groq_sends_them(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway)
    client = openai.OpenAI(base_url=f"{dev_gateway.base_url}/openai/v1", api_key=key, max_retries=0)
    arrivals: list[float] = []
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=LONG_REPLY,
        stream=True,
        max_tokens=30,  # type: ignore[arg-type]
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - started)
    assert len(arrivals) == 30
    # The simulator spaces chunks CHUNK_INTERVAL_MS apart; a buffering gateway would deliver
    # them all at once at the end.
    spread = arrivals[-1] - arrivals[0]
    assert spread >= 20 * CHUNK_INTERVAL_MS / 1000
    assert arrivals[0] < arrivals[-1] - 10 * CHUNK_INTERVAL_MS / 1000


def test_a_stream_cut_mid_way_is_metered_as_estimated_never_free(
    dev_gateway: DevGateway,
) -> None:
    key = create_key(dev_gateway)
    httpx.post(
        f"{dev_gateway.simulator_url}/_simulator/faults", json={"cut_stream_after_chunks": 3}
    ).raise_for_status()
    RELIABILITY.count_fault("connection reset mid-stream")
    with httpx.stream(
        "POST",
        f"{dev_gateway.base_url}/openai/v1/chat/completions",
        json={"model": MODEL, "messages": MESSAGES, "stream": True},
        headers={"authorization": f"Bearer {key}"},
    ) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in response.iter_bytes():
                pass
    day = metered_day(dev_gateway, key)
    assert day.estimated_requests == 1
    assert day.cost_micros > 0
    assert day.prompt_tokens > 0


def test_a_client_gone_after_the_first_chunk_is_metered_all_groq_was_asked_for(
    dev_gateway: DevGateway,
) -> None:
    """Issue #18, finding 11: the gateway stops reading Groq when the client leaves, so what
    Groq generated (and bills) is unknown; it is metered as the reservation, the most Groq
    could have generated, flagged estimated (before the fix: the prompt and a chunk or so)."""
    key = create_key(dev_gateway)
    with httpx.stream(
        "POST",
        f"{dev_gateway.base_url}/openai/v1/chat/completions",
        json={"model": MODEL, "messages": LONG_REPLY, "stream": True, "max_tokens": 200},
        headers={"authorization": f"Bearer {key}"},
    ) as response:
        for _ in response.iter_raw():
            break  # leave after the first chunk: 200 chunks would take 4 s
    RELIABILITY.count_fault("client disconnect mid-stream")
    day = metered_day(dev_gateway, key)
    assert day.estimated_requests == 1
    assert day.completion_tokens == 200
    assert day.prompt_tokens > 0


def test_a_client_gone_before_the_usage_chunk_is_metered_what_it_read(
    dev_gateway: DevGateway,
) -> None:
    """Issue #18, finding 11: every token read, the client gone before the final chunk (with
    Groq's usage): metered as the tokens relayed, never fewer."""
    key = create_key(dev_gateway)
    tokens = 40
    received = 0
    with httpx.stream(
        "POST",
        f"{dev_gateway.base_url}/openai/v1/chat/completions",
        json={"model": MODEL, "messages": LONG_REPLY, "stream": True, "max_tokens": tokens},
        headers={"authorization": f"Bearer {key}"},
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get(
                "content"
            ):
                received += 1
                if received == tokens:
                    break  # every token read; the final chunk and its usage not yet
    RELIABILITY.count_fault("client disconnect before the usage chunk")
    day = metered_day(dev_gateway, key)
    assert day.estimated_requests == 1
    assert day.completion_tokens == tokens
