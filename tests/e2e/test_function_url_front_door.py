"""``groq-gateway dev --front-door function-url``: the proxy served as its function URL
(template.yaml's ProxyFunctionUrl) on its own port, the admin API on API Gateway's, driven by
the openai SDK; allowed_cidrs sees the caller's address as a function URL gives it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from groq_gateway_dev.devserver.local_aws import free_port, wait_until_up
from tests.e2e.conftest import ADMIN_KEY, running_dev

MODEL = "openai/gpt-oss-20b"
MESSAGES = [{"role": "user", "content": "Say hello through the function URL"}]


@dataclass
class TwoDoors:
    admin_url: str  # API Gateway's port: the admin API and the console
    proxy_url: str  # the proxy's function URL


@pytest.fixture(scope="module")
def two_doors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoDoors]:
    port, url_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("dev-function-url") / "gateway.log"
    front_door = ["--front-door", "function-url", "--function-url-port", str(url_port)]
    with running_dev(["--port", str(port), *front_door], log) as process:
        doors = TwoDoors(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{url_port}")
        wait_until_up(f"{doors.admin_url}/healthz", timeout=60, process=process)
        wait_until_up(f"{doors.proxy_url}/healthz", timeout=30, process=process)
        assert f"Proxy function URL: {doors.proxy_url}/" in log.read_text()
        yield doors
    assert process.returncode == 0


def create_key(doors: TwoDoors, **body: object) -> str:
    response = httpx.post(
        f"{doors.admin_url}/openai/v1/api-keys",
        json={"name": "function-url", **body},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def test_openai_sdk_streams_and_completes_through_the_function_url(two_doors: TwoDoors) -> None:
    client = openai.OpenAI(
        base_url=f"{two_doors.proxy_url}/openai/v1", api_key=create_key(two_doors), max_retries=0
    )
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_allowed_cidrs_sees_the_callers_address_and_no_forged_one(two_doors: TwoDoors) -> None:
    forged = {"x-amzn-request-context": json.dumps({"http": {"sourceIp": "10.1.2.3"}})}
    local = openai.OpenAI(
        base_url=f"{two_doors.proxy_url}/openai/v1",
        api_key=create_key(two_doors, allowed_cidrs=["127.0.0.1/32"]),
        max_retries=0,
        default_headers=forged,
    )
    assert local.models.list().data
    elsewhere = openai.OpenAI(
        base_url=f"{two_doors.proxy_url}/openai/v1",
        api_key=create_key(two_doors, allowed_cidrs=["10.0.0.0/8"]),
        max_retries=0,
        default_headers=forged,
    )
    with pytest.raises(openai.PermissionDeniedError) as refused:
        elsewhere.models.list()
    assert refused.value.code == "ip_not_allowed"
