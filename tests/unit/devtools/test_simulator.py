"""The Groq API simulator: faithful shapes, errors, limits, faults and streaming."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import groq
import httpx
import openai
import pytest
import uvicorn
from starlette.applications import Starlette

from groq_gateway_dev.simulator import SimulatorConfig, create_app, format_duration
from groq_gateway_dev.simulator.__main__ import config_from_args, parse_args

pytestmark = pytest.mark.anyio

KEY = "gsk_test"
BEARER = {"authorization": f"Bearer {KEY}"}
CHAT = "/openai/v1/chat/completions"
MODEL = "openai/gpt-oss-20b"
HELLO = {"model": MODEL, "messages": [{"role": "user", "content": "Hello there simulator"}]}
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?(ms|s))$")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client(app: Starlette | None = None, key: str | None = KEY) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    transport = httpx.ASGITransport(app=app or create_app())
    return httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers)


def sse_data(text: str) -> list[str]:
    return [event.removeprefix("data: ") for event in text.split("\n\n") if event]


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Serve `app` with uvicorn on a free local port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


# Chat completions


async def test_completion_has_groq_usage_and_ids() -> None:
    async with client() as sim:
        response = await sim.post(CHAT, json=HELLO)
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    assert body["system_fingerprint"].startswith("fp_")
    assert body["x_groq"]["id"] == response.headers["x-request-id"]
    assert body["x_groq"]["id"].startswith("req_")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("Simulated reply to: Hello there simulator")
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["completion_tokens"] == 16 == len(choice["message"]["content"].split())
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    for name in ("queue_time", "prompt_time", "completion_time", "total_time"):
        assert isinstance(usage[name], float)


async def test_completion_length_and_prompt_estimate_are_deterministic() -> None:
    long = {"model": MODEL, "messages": [{"role": "user", "content": "word " * 400}]}
    async with client() as sim:
        short_a = (await sim.post(CHAT, json={**HELLO, "max_tokens": 5})).json()
        short_b = (await sim.post(CHAT, json={**HELLO, "max_completion_tokens": 5})).json()
        long_body = (await sim.post(CHAT, json=long)).json()
    assert short_a["usage"]["completion_tokens"] == 5
    assert short_a["choices"][0]["finish_reason"] == "length"
    assert short_a["choices"][0]["message"] == short_b["choices"][0]["message"]
    assert short_a["usage"]["prompt_tokens"] == short_b["usage"]["prompt_tokens"]
    assert long_body["usage"]["prompt_tokens"] >= 500 > short_a["usage"]["prompt_tokens"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": MODEL}, "messages"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": ["hi"]}, "messages"),
        ({**HELLO, "max_tokens": 0}, "max_tokens"),
        ({**HELLO, "max_tokens": 10**9}, "max_tokens"),
    ],
)
async def test_invalid_chat_bodies_are_400(body: dict[str, Any], param: str) -> None:
    async with client() as sim:
        response = await sim.post(CHAT, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == param


async def test_body_must_be_a_json_object() -> None:
    async with client() as sim:
        response = await sim.post(CHAT, content=b"not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_stream_without_include_usage() -> None:
    async with client() as sim:
        response = await sim.post(CHAT, json={**HELLO, "stream": True, "max_tokens": 4})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    first, *words, final = chunks
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["x_groq"]["id"] == response.headers["x-request-id"]
    assert len(words) == 4
    text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in words)
    assert text == "Simulated reply to: Hello"
    assert final["choices"][0]["finish_reason"] == "length"
    assert final["x_groq"]["id"] == first["x_groq"]["id"]
    assert final["x_groq"]["usage"]["completion_tokens"] == 4
    assert not any("usage" in chunk for chunk in chunks)


async def test_stream_with_include_usage_ends_with_a_usage_chunk() -> None:
    body = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    async with client() as sim:
        events = sse_data((await sim.post(CHAT, json=body)).text)
    assert events[-1] == "[DONE]"
    final, usage_only = json.loads(events[-3]), json.loads(events[-2])
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage"] == final["x_groq"]["usage"] == usage_only["usage"]
    assert usage_only["choices"] == []
    assert usage_only["usage"]["completion_tokens"] == 16


def test_stream_is_sent_incrementally() -> None:
    app = create_app(SimulatorConfig(chunk_interval_ms=30))
    body = {**HELLO, "stream": True, "max_tokens": 12}
    with serving(app) as url, httpx.Client(base_url=url, headers=BEARER) as http:
        start = time.monotonic()
        with http.stream("POST", CHAT, json=body) as response:
            arrivals = [time.monotonic() - start for line in response.iter_lines() if line]
    assert len(arrivals) == 1 + 12 + 1 + 1  # role, words, final, [DONE]
    assert arrivals[-1] >= 0.3
    assert arrivals[0] < arrivals[-1] - 0.2


# Faults injected at run time


async def test_injected_500_then_success() -> None:
    async with client() as sim:
        queued = await sim.post("/_simulator/faults", json={"status": 500, "count": 2})
        assert queued.json() == {"queued": 2, "pending": 2}
        first = await sim.post(CHAT, json=HELLO)
        second = await sim.get("/openai/v1/models")
        third = await sim.post(CHAT, json=HELLO)
        stats = (await sim.get("/_simulator/stats")).json()
    assert first.status_code == second.status_code == 500
    assert first.json() == {
        "error": {"message": "Internal Server Error", "type": "internal_server_error"}
    }
    assert "x-request-id" in first.headers
    assert third.status_code == 200
    assert stats["faults_injected"] == 2
    assert stats["pending_faults"] == 0
    assert stats["by_status"] == {"200": 1, "500": 2}


async def test_injected_429_and_503_carry_retry_after() -> None:
    async with client() as sim:
        await sim.post("/_simulator/faults", json={"status": 429, "retry_after": 2})
        await sim.post("/_simulator/faults", json={"status": 503, "retry_after": 0.5})
        limited = await sim.post(CHAT, json=HELLO)
        unavailable = await sim.post(CHAT, json=HELLO)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert unavailable.status_code == 503
    assert unavailable.headers["retry-after"] == "0.5"
    assert unavailable.json()["error"]["message"] == "Service Unavailable"


async def test_fault_controls_validate_and_clear() -> None:
    async with client() as sim:
        assert (await sim.post("/_simulator/faults", json={"count": 1})).status_code == 400
        assert (await sim.post("/_simulator/faults", json={"status": 200})).status_code == 400
        await sim.post("/_simulator/faults", json={"delay_ms": 1, "count": 3})
        assert len((await sim.get("/_simulator/faults")).json()) == 3
        assert (await sim.delete("/_simulator/faults")).status_code == 204
        assert (await sim.get("/_simulator/faults")).json() == []


async def test_delay_fault_and_latency_slow_the_answer() -> None:
    app = create_app(SimulatorConfig(latency_ms=50))
    async with client(app) as sim:
        await sim.post("/_simulator/faults", json={"delay_ms": 100})
        start = time.monotonic()
        assert (await sim.get("/openai/v1/models")).status_code == 200
        assert time.monotonic() - start >= 0.15


def test_cut_stream_drops_the_connection_without_usage_or_done() -> None:
    app = create_app()
    body = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    with serving(app) as url, httpx.Client(base_url=url, headers=BEARER) as http:
        http.post("/_simulator/faults", json={"cut_stream_after_chunks": 3})
        # A non-streamed request does not take a cut meant for a stream.
        assert http.post(CHAT, json=HELLO).status_code == 200
        received: list[str] = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            http.stream("POST", CHAT, json=body) as response,
        ):
            received.extend(line for line in response.iter_lines() if line)
        assert response.status_code == 200
        assert len(received) == 3
        assert "[DONE]" not in "".join(received)
        assert all("usage" not in line for line in received)
        complete = http.post(CHAT, json=body)
        assert complete.text.endswith("data: [DONE]\n\n")
        assert http.get("/_simulator/stats").json()["streams_cut"] == 1


async def test_random_failures_are_reproducible_with_a_seed() -> None:
    async def statuses() -> list[int]:
        config = SimulatorConfig(failure_rate=0.5, failure_status=502, seed=7)
        async with client(create_app(config)) as sim:
            return [(await sim.get("/openai/v1/models")).status_code for _ in range(20)]

    first = await statuses()
    assert first == await statuses()
    assert set(first) == {200, 502}


# Auth, models and unknown URLs


async def test_missing_or_unknown_key_is_401() -> None:
    app = create_app(SimulatorConfig(api_keys=frozenset({KEY})))
    invalid = {"message": "Invalid API Key", "type": "invalid_request_error"}
    expected = {"error": {**invalid, "code": "invalid_api_key"}}
    async with client(app, key=None) as anonymous, client(app, key="gsk_other") as other:
        missing = await anonymous.post(CHAT, json=HELLO)
        wrong = await other.get("/openai/v1/models")
    async with client(app) as sim:
        right = await sim.get("/openai/v1/models")
    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == wrong.json() == expected
    assert right.status_code == 200


async def test_unknown_inactive_and_decommissioned_models() -> None:
    async with client() as sim:
        unknown = await sim.post(CHAT, json={**HELLO, "model": "no-such-model"})
        retired = await sim.post(CHAT, json={**HELLO, "model": "mixtral-8x7b-32768"})
        whisper = await sim.post(CHAT, json={**HELLO, "model": "whisper-large-v3"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "message": "The model `no-such-model` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "code": "model_not_found",
    }
    assert retired.status_code == 400
    assert retired.json()["error"]["code"] == "model_decommissioned"
    assert whisper.status_code == 400


async def test_models_list_and_get() -> None:
    async with client() as sim:
        listed = (await sim.get("/openai/v1/models")).json()
        one = await sim.get("/openai/v1/models/openai/gpt-oss-120b")
        gone = await sim.get("/openai/v1/models/gemma2-9b-it")
    assert listed["object"] == "list"
    ids = {model["id"] for model in listed["data"]}
    assert {"openai/gpt-oss-120b", "llama-3.1-8b-instant", "whisper-large-v3-turbo"} <= ids
    assert "gemma2-9b-it" not in ids
    assert one.json()["id"] == "openai/gpt-oss-120b"
    assert one.json()["object"] == "model"
    assert one.json()["active"] is True
    assert one.json()["context_window"] == 131_072
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/openai/v1/embeddingz", KEY),
        ("DELETE", "/openai/v1/models", KEY),
        ("GET", "/v1/chat/completions", None),
    ],
)
async def test_unknown_url_is_404(method: str, path: str, key: str | None) -> None:
    async with client(key=key) as sim:
        response = await sim.request(method, path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_url"
    assert error["message"].startswith(f"Unknown request URL: {method} {path}")


# Rate limits


async def test_rate_limit_headers_on_every_response() -> None:
    async with client() as sim:
        first = await sim.post(CHAT, json=HELLO)
        second = await sim.post(CHAT, json=HELLO)
        missing = await sim.get("/openai/v1/models/unknown")
    for response in (first, second, missing):
        assert response.headers["x-ratelimit-limit-requests"] == "14400"
        assert response.headers["x-ratelimit-limit-tokens"] == "18000"
        assert DURATION.match(response.headers["x-ratelimit-reset-requests"])
        assert DURATION.match(response.headers["x-ratelimit-reset-tokens"])
        assert response.headers["x-groq-organization"].startswith("org_sim")
        assert response.headers["x-groq-region"]
    used = first.json()["usage"]["total_tokens"]
    remaining = int(second.headers["x-ratelimit-remaining-tokens"])
    assert 18000 - 2 * used <= remaining < 18000 - used
    assert int(second.headers["x-ratelimit-remaining-requests"]) in (14398, 14399)


async def test_tokens_per_minute_are_enforced_with_429() -> None:
    app = create_app(SimulatorConfig(tokens_per_minute=100))
    async with client(app) as sim:
        ok = await sim.post(CHAT, json={**HELLO, "max_tokens": 60})
        limited = await sim.post(CHAT, json={**HELLO, "max_tokens": 60})
        too_large = await sim.post(CHAT, json={**HELLO, "max_tokens": 200})
        stats = (await sim.get("/_simulator/stats")).json()
    assert ok.status_code == 200
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    error = limited.json()["error"]
    assert error["type"] == "tokens"
    assert error["code"] == "rate_limit_exceeded"
    assert re.match(
        rf"Rate limit reached for model `{MODEL}` in organization `org_sim` service tier "
        r"`on_demand` on tokens per minute \(TPM\): Limit 100, Used \d+, Requested \d+\. "
        r"Please try again in [\d.ms]+\.",
        error["message"],
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "rate_limit_exceeded"
    assert stats["rate_limited"] == 1


async def test_requests_per_day_are_enforced_with_429() -> None:
    app = create_app(SimulatorConfig(requests_per_day=2))
    async with client(app) as sim:
        statuses = [(await sim.get("/openai/v1/models")).status_code for _ in range(3)]
        limited = await sim.post(CHAT, json=HELLO)
    assert statuses == [200, 200, 429]
    assert limited.json()["error"]["type"] == "requests"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.285, "285ms"), (7.66, "7.66s"), (179.56, "2m59.56s"), (3723, "1h2m3s")],
)
def test_format_duration_is_go_style(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# Audio, Responses API, files and batches


async def test_transcriptions_and_translations() -> None:
    audio = ("speech.wav", b"\x01" * 48_000, "audio/wav")
    async with client() as sim:

        async def post(path: str, **fields: str) -> httpx.Response:
            fields.setdefault("model", "whisper-large-v3")
            return await sim.post(f"/openai/v1/audio/{path}", data=fields, files={"file": audio})

        plain = await post("transcriptions")
        verbose = await post("transcriptions", response_format="verbose_json")
        text = await post("translations", response_format="text", model="whisper-large-v3-turbo")
        wrong_model = await post("transcriptions", model=MODEL)
        short = await sim.post(
            "/openai/v1/audio/transcriptions",
            data={"model": "whisper-large-v3", "response_format": "verbose_json"},
            files={"file": ("a.wav", b"RIFF", "audio/wav")},
        )
    assert set(plain.json()) == {"text", "x_groq"}
    assert plain.json()["x_groq"]["id"] == plain.headers["x-request-id"]
    assert verbose.json()["duration"] == 3.0
    assert verbose.json()["segments"] == []
    assert verbose.json()["text"] == plain.json()["text"]
    assert short.json()["duration"] == 1.0
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith("Simulated translation")
    assert wrong_model.status_code == 400


async def test_speech_returns_a_valid_wav() -> None:
    body = {"model": "canopylabs/orpheus-v1-english", "voice": "autumn", "input": "Hi there"}
    async with client() as sim:
        response = await sim.post("/openai/v1/audio/speech", json=body)
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getnchannels() == 1
        assert audio.getnframes() > 0


async def test_responses_api() -> None:
    body = {"model": MODEL, "input": "Tell me a joke", "max_output_tokens": 6}
    async with client() as sim:
        response = (await sim.post("/openai/v1/responses", json=body)).json()
        listed = await sim.post(
            "/openai/v1/responses",
            json={"model": MODEL, "input": [{"role": "user", "content": "Hi"}]},
        )
        stored = await sim.post("/openai/v1/responses", json={**body, "store": True})
        streamed = await sim.post("/openai/v1/responses", json={**body, "stream": True})
    assert response["object"] == "response"
    assert response["output"][0]["content"][0]["text"].split() == [
        "Simulated", "reply", "to:", "Tell", "me", "a"
    ]  # fmt: skip
    usage = response["usage"]
    assert usage["output_tokens"] == 6
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert listed.json()["status"] == "completed"
    assert stored.status_code == 400
    assert stored.json()["error"]["param"] == "store"
    events = [json.loads(line) for line in re.findall(r"^data: (.*)$", streamed.text, re.M)]
    assert events[0]["type"] == "response.created"
    assert [e["type"] for e in events].count("response.output_text.delta") == 6
    assert events[-1]["response"]["usage"]["output_tokens"] == 6


async def test_files_and_batches() -> None:
    lines = [
        {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": HELLO},
        {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {}},
    ]
    jsonl = "".join(json.dumps(line) + "\n" for line in lines).encode()
    async with client() as sim:
        wrong = await sim.post(
            "/openai/v1/files", data={"purpose": "fine-tune"}, files={"file": ("b.jsonl", jsonl)}
        )
        uploaded = await sim.post(
            "/openai/v1/files", data={"purpose": "batch"}, files={"file": ("b.jsonl", jsonl)}
        )
        file_id = uploaded.json()["id"]
        content = await sim.get(f"/openai/v1/files/{file_id}/content")
        batch_body = {
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        }
        created = (await sim.post("/openai/v1/batches", json=batch_body)).json()
        done = (await sim.get(f"/openai/v1/batches/{created['id']}")).json()
        output = await sim.get(f"/openai/v1/files/{done['output_file_id']}/content")
        errors = await sim.get(f"/openai/v1/files/{done['error_file_id']}/content")
        other = (await sim.post("/openai/v1/batches", json=batch_body)).json()
        cancelled = await sim.post(f"/openai/v1/batches/{other['id']}/cancel")
        eight_days = {**batch_body, "completion_window": "8d"}
        too_long = await sim.post("/openai/v1/batches", json=eight_days)
        listed = (await sim.get("/openai/v1/batches")).json()
        deleted = await sim.delete(f"/openai/v1/files/{file_id}")
        missing = await sim.get(f"/openai/v1/files/{file_id}")
    assert wrong.status_code == 400
    assert uploaded.json()["bytes"] == len(jsonl)
    assert content.content == jsonl
    assert created["status"] == "validating"
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    result = json.loads(output.text)
    assert result["custom_id"] == "a"
    assert result["response"]["body"]["usage"]["completion_tokens"] == 16
    assert json.loads(errors.text)["response"]["status_code"] == 400
    assert cancelled.json()["status"] == "cancelled"
    assert too_long.status_code == 400
    assert len(listed["data"]) == 2
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert missing.status_code == 404


# Test controls


async def test_requests_are_recorded_and_cleared() -> None:
    async with client() as sim:
        await sim.post(CHAT, json=HELLO)
        await sim.post(
            "/openai/v1/audio/transcriptions",
            data={"model": "whisper-large-v3"},
            files={"file": ("a.wav", b"x" * 100)},
        )
        recorded = (await sim.get("/_simulator/requests")).json()
        assert (await sim.delete("/_simulator/requests")).status_code == 204
        assert (await sim.get("/_simulator/requests")).json() == []
    chat, audio = recorded
    assert chat["method"] == "POST"
    assert chat["path"] == CHAT
    assert chat["key"] == KEY
    assert chat["json"] == HELLO
    assert audio["form"] == {"fields": {"model": "whisper-large-v3"}, "files": {"file": 100}}


def test_cli_arguments_make_a_config() -> None:
    args = parse_args(["--port", "9000", "--api-key", "a", "--api-key", "b", "--latency-ms", "5"])
    config = config_from_args(args)
    assert args.port == 9000
    assert config.api_keys == frozenset({"a", "b"})
    assert config.latency_ms == 5.0
    assert config_from_args(parse_args([])).api_keys is None


# The official SDKs against a served simulator


def test_openai_and_groq_sdks() -> None:
    app = create_app(SimulatorConfig(api_keys=frozenset({KEY})))
    with serving(app) as url:
        sdk = openai.OpenAI(base_url=f"{url}/openai/v1", api_key=KEY, max_retries=1)
        completion = sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3
        )
        assert completion.choices[0].message.content == "Simulated reply to:"
        assert completion.usage is not None
        assert completion.usage.completion_tokens == 3

        stream = sdk.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 16

        # The SDK retries an injected 503 (honouring retry-after) and succeeds.
        httpx.post(f"{url}/_simulator/faults", json={"status": 503, "retry_after": 0.01})
        assert MODEL in {model.id for model in sdk.models.list()}
        assert httpx.get(f"{url}/_simulator/stats").json()["by_status"]["503"] == 1

        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        assert sdk.responses.create(model=MODEL, input="Hi").output_text.startswith("Simulated")

        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/openai/v1", api_key="bad").models.list()

        native = groq.Groq(base_url=url, api_key=KEY, max_retries=0)
        reply = native.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}]
        )
        assert reply.usage is not None
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + 16
        with pytest.raises(groq.BadRequestError):
            native.chat.completions.create(
                model="gemma2-9b-it", messages=[{"role": "user", "content": "x"}]
            )
