"""Settlement, metrics and the log line happen after the response's last byte, never before;
and in Lambda the post-response extension holds the environment until they are done.

These tests call the proxy as an ASGI server does, recording the messages it sends, so the
order of "the client has the whole response" and "the settlement write starts" is observed,
not inferred.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

from groq_gateway.proxy.after_response import AfterResponse
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.proxy.lambda_extension import PostResponseExtension
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.store import GatewayStore
from groq_gateway_dev.simulator import SimulatorConfig
from groq_gateway_dev.simulator import create_app as create_simulator
from tests.conftest import UPSTREAM_KEY
from tests.integration.conftest import LocalGateway
from tests.integration.test_proxy_limits_and_metering import CHAT, add_key, today

pytestmark = pytest.mark.anyio

Events = list[str]


def asgi_scope(path: str, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.7", 40000),
        "server": ("gateway.test", 80),
    }


async def serve_one(
    app: Callable[..., Awaitable[None]], scope: dict[str, Any], body: bytes, events: Events
) -> tuple[int, bytes]:
    """Run one request through ``app`` as a server would; note when the response is whole."""
    request = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if request:
            return request.pop(0)
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                events.append("response complete")

    await app(scope, receive, send)
    return status, b"".join(chunks)


@pytest.fixture
def recorded(
    gateway: LocalGateway, monkeypatch: pytest.MonkeyPatch
) -> tuple[Events, GatewayStore, Any]:
    """A proxy app whose settlement writes and telemetry are noted in ``events``."""
    events: Events = []
    store = GatewayStore(gateway.settings.table_name)
    settle = store.counters.settle

    def noted_settle(*args: Any, **kwargs: Any) -> Any:
        events.append("settle")
        return settle(*args, **kwargs)

    monkeypatch.setattr(store.counters, "settle", noted_settle)
    publish = RequestTelemetry.publish

    def noted_publish(self: RequestTelemetry) -> None:
        events.append("publish")
        publish(self)

    monkeypatch.setattr(RequestTelemetry, "publish", noted_publish)
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    app = create_proxy_app(
        gateway.settings, store=store, upstream_transport=httpx.ASGITransport(app=simulator)
    )
    return events, store, app


@pytest.mark.parametrize("stream", [False, True])
async def test_the_client_has_the_whole_response_before_settlement_starts(
    gateway: LocalGateway, recorded: tuple[Events, GatewayStore, Any], stream: bool
) -> None:
    events, store, app = recorded
    key, plaintext = add_key(gateway, requests_per_minute=100, monthly_budget_usd="5")
    scope = asgi_scope(
        "/openai/v1/chat/completions",
        {"authorization": f"Bearer {plaintext}", "content-type": "application/json"},
    )
    status, body = await serve_one(
        app, scope, json.dumps(CHAT | {"stream": stream}).encode(), events
    )
    assert status == 200
    assert events == ["response complete", "settle", "publish"]
    # ... and the settlement did happen: the usage is metered once, exactly.
    [day] = list(store.usage.for_key(key.key_id, today(), today()))
    assert (day.requests, day.estimated_requests) == (1, 0)
    if stream:
        assert body.rstrip().endswith(b"data: [DONE]")


async def test_a_refused_request_is_logged_after_its_response(
    recorded: tuple[Events, GatewayStore, Any],
) -> None:
    events, _, app = recorded
    scope = asgi_scope("/openai/v1/chat/completions", {"authorization": "Bearer gk_nope"})
    status, body = await serve_one(app, scope, json.dumps(CHAT).encode(), events)
    assert status == 401
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
    assert events == ["response complete", "publish"]


async def test_after_response_work_runs_in_order_and_survives_a_failure() -> None:
    done: list[str] = []
    work = AfterResponse()

    async def first() -> None:
        done.append("first")
        work.add(third)  # work added while running still runs

    async def broken() -> None:
        raise RuntimeError("boom")

    async def third() -> None:
        done.append("third")

    work.add(first)
    work.add(broken)
    await work.run()
    assert done == ["first", "third"]


# -- the Lambda side: a fake Extensions API ----------------------------------------------------


class FakeExtensionsApi:
    """Lambda's Extensions API as the extension sees it: ``register`` once, then ``next``
    returns the events the test queues, one per call, blocking until there is one."""

    def __init__(self) -> None:
        self.registered: dict[str, Any] = {}
        self.next_calls = 0
        self.events: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def transport(self, request: Any, timeout: float | None) -> Any:
        url = request.full_url
        if url.endswith("/extension/register"):
            self.registered = {
                "name": request.get_header("Lambda-extension-name"),
                "body": json.loads(request.data),
            }
            return FakeResponse(b"{}", {"Lambda-Extension-Identifier": "ext-1"})
        assert url.endswith("/extension/event/next")
        assert request.get_header("Lambda-extension-identifier") == "ext-1"
        with self.changed:
            self.next_calls += 1
            self.changed.notify_all()
            while not self.events:
                self.changed.wait()
            event = self.events.pop(0)
        return FakeResponse(json.dumps(event).encode(), {})

    def invoke(self, request_id: str, deadline_ms: float) -> None:
        with self.changed:
            self.events.append(
                {"eventType": "INVOKE", "requestId": request_id, "deadlineMs": deadline_ms}
            )
            self.changed.notify_all()

    def wait_for_next_calls(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.next_calls >= count, timeout=timeout)


class FakeResponse:
    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body, self.headers = body, headers

    def read(self) -> bytes:
        return self.body

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def far_deadline() -> float:
    return (time.time() + 300) * 1000


def registered(**options: Any) -> tuple[FakeExtensionsApi, PostResponseExtension]:
    """An extension registered with a fake API, done with init: waiting for its first event."""
    api = FakeExtensionsApi()
    extension = PostResponseExtension("127.0.0.1:9001", transport=api.transport, **options)
    extension.register()
    assert api.wait_for_next_calls(1, timeout=5)
    return api, extension


def test_the_extension_asks_for_the_next_event_only_when_the_invocation_is_done() -> None:
    api, extension = registered()
    assert api.registered == {
        "name": "groq-gateway-post-response",
        "body": {"events": ["INVOKE"]},
    }

    api.invoke("req-1", far_deadline())
    extension.started("req-1")
    assert not api.wait_for_next_calls(2, timeout=0.3)  # response sent, work still running
    extension.done("req-1")
    assert api.wait_for_next_calls(2, timeout=5)

    # A request that finished before the extension even saw its INVOKE is not waited for.
    extension.started("req-2")
    extension.done("req-2")
    api.invoke("req-2", far_deadline())
    assert api.wait_for_next_calls(3, timeout=5)


def test_without_request_ids_the_extension_waits_for_a_request_to_finish() -> None:
    api, extension = registered()
    api.invoke("req-1", far_deadline())
    assert not api.wait_for_next_calls(2, timeout=0.3)  # the request has not arrived yet
    extension.started(None)
    assert not api.wait_for_next_calls(2, timeout=0.2)
    extension.done(None)
    assert api.wait_for_next_calls(2, timeout=5)


def test_the_deadline_releases_an_invocation_whose_request_never_came() -> None:
    api, _ = registered(release_margin=0.0, arrival_timeout=60.0)
    api.invoke("lost", (time.time() + 1.0) * 1000)
    assert not api.wait_for_next_calls(2, timeout=0.3)
    assert api.wait_for_next_calls(2, timeout=5)


async def test_the_app_reports_lambda_requests_to_the_extension(
    gateway: LocalGateway,
) -> None:
    """The Web Adapter's ``x-amzn-lambda-context`` names the invocation; the readiness probe
    is not an invocation's request."""
    seen: list[tuple[str, str | None]] = []

    class Recording(PostResponseExtension):
        def started(self, request_id: str | None) -> None:
            seen.append(("started", request_id))

        def done(self, request_id: str | None) -> None:
            seen.append(("done", request_id))

    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    app = create_proxy_app(
        gateway.settings,
        upstream_transport=httpx.ASGITransport(app=simulator),
        extension=Recording("127.0.0.1:9001"),
    )
    _, plaintext = add_key(gateway)
    context = json.dumps({"request_id": "inv-42", "deadline": 0})
    headers = {"authorization": f"Bearer {plaintext}", "x-amzn-lambda-context": context}
    status, _ = await serve_one(
        app, asgi_scope("/openai/v1/chat/completions", headers), json.dumps(CHAT).encode(), []
    )
    assert status == 200
    status, _ = await serve_one(app, asgi_scope("/healthz", {}, method="GET"), b"", [])
    assert status == 200
    assert seen == [("started", "inv-42"), ("done", "inv-42")]


async def test_a_failed_registration_is_logged_and_the_proxy_still_serves(
    gateway: LocalGateway, caplog: pytest.LogCaptureFixture
) -> None:
    class Unregistrable(PostResponseExtension):
        def register(self) -> None:
            raise OSError("no Extensions API here")

    app = create_proxy_app(gateway.settings, extension=Unregistrable("127.0.0.1:9001"))
    async with app.router.lifespan_context(app):
        status, _ = await serve_one(app, asgi_scope("/healthz", {}, method="GET"), b"", [])
    assert status == 200
    assert "post-response extension not registered" in caplog.text
