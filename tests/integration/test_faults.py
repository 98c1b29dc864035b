"""Faults the gateway must survive: Groq timing out, Secrets Manager gone, DynamoDB
throttling. Each answers cleanly in OpenAI's format, and nothing is forwarded unmetered."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.store import GatewayStore
from groq_gateway_dev.devserver.local_aws import free_port
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_proxy_limits_and_metering import CHAT, add_key, auth, chat, today
from tests.integration.test_usage_poller import emf_documents, emitted
from tests.reliability_report import RELIABILITY

pytestmark = pytest.mark.anyio


def throttled_store(table_name: str, operations: set[str]) -> GatewayStore:
    """A store whose DynamoDB answers ``operations`` with throttling, as an overloaded table
    would (after botocore's own retries)."""
    client = boto3.client("dynamodb", config=Config(retries={"max_attempts": 2}))
    throttled = {"count": 0}

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if target.rsplit(".", 1)[-1] not in operations:
            return None
        throttled["count"] += 1
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"x"}'
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "throttled"}, _Raw(body))

    client.meta.events.register("before-send.dynamodb", throttle)
    store = GatewayStore(table_name, client)
    store.throttled = throttled  # type: ignore[attr-defined]
    return store


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


async def test_throttled_admission_fails_closed_and_forwards_nothing(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    key, plaintext = add_key(gateway, requests_per_minute=100)
    store = throttled_store(local_aws["GatewayTable"], {"UpdateItem", "TransactWriteItems"})
    app = create_proxy_app(
        gateway.settings,
        store=store,
        upstream_transport=httpx.ASGITransport(app=gateway.simulator),
    )
    await gateway.upstream.delete("/_simulator/requests")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
    ) as client:
        response = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
    RELIABILITY.count_fault("DynamoDB throttling on admission", store.throttled["count"])  # type: ignore[attr-defined]
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert (await gateway.upstream.get("/_simulator/requests")).json() == []
    assert list(gateway.store.usage.for_key(key.key_id, today(), today())) == []


async def test_a_throttled_key_lookup_fails_closed(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    _, plaintext = add_key(gateway)
    store = throttled_store(local_aws["GatewayTable"], {"GetItem"})
    app = create_proxy_app(
        gateway.settings,
        store=store,
        upstream_transport=httpx.ASGITransport(app=gateway.simulator),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
    ) as client:
        response = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
    RELIABILITY.count_fault("DynamoDB throttling on key lookup", store.throttled["count"])  # type: ignore[attr-defined]
    assert response.status_code == 503


async def test_the_cached_upstream_key_outlives_a_secrets_manager_outage(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    _, plaintext = add_key(gateway)
    assert (await chat(gateway, plaintext)).status_code == 200  # the upstream key is cached
    boto3.client("secretsmanager").delete_secret(
        SecretId=local_aws["UpstreamKeySecret"], ForceDeleteWithoutRecovery=True
    )
    RELIABILITY.count_fault("Secrets Manager unavailable")
    statuses = [(await chat(gateway, plaintext)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


async def test_an_unreadable_upstream_key_is_a_clean_503(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=local_aws["UpstreamKeySecret"], ForceDeleteWithoutRecovery=True
    )
    RELIABILITY.count_fault("Secrets Manager unavailable, cold")
    _, plaintext = add_key(gateway)
    response = await chat(gateway, plaintext)
    assert response.status_code == 503
    assert "upstream key" in response.json()["error"]["message"]


async def test_groq_timing_out_is_a_clean_504_after_bounded_retries(
    gateway: LocalGateway, local_aws: dict[str, str], simulator_url: str
) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=1)
    settings = gateway_settings(
        local_aws,
        upstream_base_url=simulator_url,
        upstream_timeout_seconds=0.3,
        upstream_max_retries=1,
        upstream_retry_budget_seconds=2,
    )
    app = create_proxy_app(settings)
    RELIABILITY.count_fault("Groq timeout", 2)
    async with (
        httpx.AsyncClient(base_url=simulator_url) as simulator,
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
        ) as client,
    ):
        faults = await simulator.post("/_simulator/faults", json={"delay_ms": 1500, "count": 2})
        faults.raise_for_status()
        response = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
        await simulator.delete("/_simulator/faults")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert list(gateway.store.usage.for_key(key.key_id, today(), today())) == []


async def test_groq_errors_are_retried_and_counted(gateway: LocalGateway) -> None:
    _, plaintext = add_key(gateway)
    for status in (500, 503, 429):
        await gateway.upstream.post("/_simulator/faults", json={"status": status, "count": 1})
        RELIABILITY.count_fault(f"Groq {status}")
        assert (await chat(gateway, plaintext)).status_code == 200


class _BrokenTransport(httpx.AsyncBaseTransport):
    """An upstream whose client fails with an error nobody anticipated (a bug, not a fault
    of Groq's that the gateway knows how to answer)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("an internal error the pipeline does not handle")


async def test_an_unhandled_exception_is_a_500_counted_by_the_5xx_alarm(
    gateway: LocalGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    key, plaintext = add_key(gateway, monthly_budget_usd=1)
    app = create_proxy_app(gateway.settings, upstream_transport=_BrokenTransport())
    capsys.readouterr()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://proxy.test",
    ) as client:
        response = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
    output = capsys.readouterr().out
    # The request's one line: its metrics and its log fields.
    [logged] = [document for document in emf_documents(output) if "Requests" in document]
    assert (logged["status"], logged["key_id"]) == (500, key.key_id)
    assert logged["error_type"] == "RuntimeError"
    metrics = emitted(output)
    # What Proxy5xxAlarm (template.yaml) divides: Gateway5xx by Requests, dimension service.
    assert metrics[("Gateway5xx", ())] == 1
    assert metrics[("Requests", ())] == 1
    # The admission was given back: nothing reached Groq, nothing is spent.
    assert list(gateway.store.usage.for_key(key.key_id, today(), today())) == []


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """An address that takes TCP connections (the kernel's backlog completes them) and never
    answers a byte, as a DynamoDB endpoint behind a broken network path would."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@contextmanager
def closed_endpoint() -> Iterator[str]:
    """An address where nothing listens: every connection is refused."""
    yield f"http://127.0.0.1:{free_port()}"


# What "fails closed fast" means for the proxy: a generous ceiling, not a benchmark.
FAIL_FAST_SECONDS = 6.0


@pytest.mark.parametrize("endpoint", [silent_endpoint, closed_endpoint])
async def test_an_unreachable_dynamodb_is_a_503_within_seconds(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch, endpoint: Any
) -> None:
    _, plaintext = add_key(gateway)
    with endpoint() as url:
        # Only DynamoDB moves; Secrets Manager (the upstream key) stays on moto's server.
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
        app = create_proxy_app(
            gateway.settings, upstream_transport=httpx.ASGITransport(app=gateway.simulator)
        )
        await gateway.upstream.delete("/_simulator/requests")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
        ) as client:
            started = time.monotonic()
            response = await client.post(
                "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
            )
            elapsed = time.monotonic() - started
    RELIABILITY.count_fault(f"DynamoDB unreachable ({endpoint.__name__})")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert elapsed < FAIL_FAST_SECONDS, f"503 after {elapsed:.1f} s"
    assert (await gateway.upstream.get("/_simulator/requests")).json() == []
