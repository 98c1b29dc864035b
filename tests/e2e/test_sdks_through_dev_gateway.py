"""The first vertical slice end to end: `groq-gateway dev`, driven by the official SDKs."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import groq
import httpx
import openai
import pytest

from groq_gateway_dev.devserver.local_aws import free_port, wait_until_up
from tests.e2e.conftest import ROOT, DevGateway, groq_gateway_command
from tests.minute_window import in_one_window

MODEL = "openai/gpt-oss-20b"
MESSAGES = [{"role": "user", "content": "Say hello to the gateway"}]


def create_key(gateway: DevGateway, **body: object) -> str:
    body.setdefault("name", "e2e")
    response = httpx.post(
        f"{gateway.base_url}/openai/v1/api-keys",
        json=body,
        headers={"authorization": f"Bearer {gateway.admin_key}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def openai_client(gateway: DevGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.base_url}/openai/v1", api_key=key, max_retries=0)


def test_openai_sdk_chat_completion(dev_gateway: DevGateway) -> None:
    client = openai_client(dev_gateway, create_key(dev_gateway, allowed_models=[MODEL]))
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_openai_sdk_streaming(dev_gateway: DevGateway) -> None:
    client = openai_client(dev_gateway, create_key(dev_gateway))
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 2
    assert text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_groq_sdk_chat_completion(dev_gateway: DevGateway) -> None:
    client = groq.Groq(
        base_url=dev_gateway.base_url, api_key=create_key(dev_gateway), max_retries=0
    )
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content


def test_gateway_errors_surface_as_the_sdks_own_exceptions(dev_gateway: DevGateway) -> None:
    bad = openai_client(dev_gateway, "ggw_" + "a" * 16 + "_" + "b" * 43)
    with pytest.raises(openai.AuthenticationError) as auth_error:
        bad.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert auth_error.value.code == "invalid_api_key"
    limited = openai_client(dev_gateway, create_key(dev_gateway, allowed_models=["x-model"]))
    with pytest.raises(openai.PermissionDeniedError) as denied:
        limited.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert denied.value.code == "model_not_available"


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_dev_stops_cleanly_with_everything_it_started(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    log = tmp_path / "dev.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*groq_gateway_command(), "dev", "--simulate", "--port", str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", timeout=60, process=process)
            banner = log.read_text()
            assert re.search(r"Admin key: \S+", banner)
            children = re.findall(r"http://127\.0\.0\.1:\d+", banner.split("Admin key")[0])
            assert len(set(children)) >= 3  # gateway, simulator, local AWS
            process.send_signal(stop_signal)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    for url in set(children):
        assert not listening(url), f"{url} still listening after the gateway stopped"


def test_dev_refuses_to_start_without_an_upstream(tmp_path: Path) -> None:
    result = subprocess.run(
        [*groq_gateway_command(), "dev", "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 2
    assert "--simulate" in result.stderr


@pytest.mark.anyio
async def test_async_sdks_stream_and_see_gateway_errors(dev_gateway: DevGateway) -> None:
    key = create_key(dev_gateway, requests_per_minute=3)
    await in_one_window(10)  # its three requests and the refused fourth in one window
    client = openai.AsyncOpenAI(
        base_url=f"{dev_gateway.base_url}/openai/v1", api_key=key, max_retries=0
    )
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,  # type: ignore[arg-type]
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text
    groq_client = groq.AsyncGroq(base_url=dev_gateway.base_url, api_key=key, max_retries=0)
    completion = await groq_client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    await groq_client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(groq.RateLimitError):
        await groq_client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    await client.close()
    await groq_client.close()
