"""`groq-gateway smoke` against a fake gateway (httpx's MockTransport for the admin API and the
openai SDK alike): one line per check, the first failure with where to look, and the key
revoked whatever happened."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import openai
import pytest

from groq_gateway_dev.cli import main as cli_main
from groq_gateway_dev.cli.client import AdminClient, AdminKeyAuth
from groq_gateway_dev.cli.smoke import Smoke

URL = "http://gateway.test"
ADMIN_KEY = "test-admin-key"
KEY_ID = "0123456789abcdef"
PLAINTEXT = "ggw_0123456789abcdef_secret"
NOW = datetime(2026, 11, 26, 16, 37, 13, tzinfo=UTC)


def error(status: int, message: str, code: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return httpx.Response(status, json=body)


class FakeGateway:
    """Just enough of the admin API and the proxy for the smoke checks; records requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.created: dict[str, Any] | None = None
        self.revoked = False
        self.metered = 0
        self.chat_error: httpx.Response | None = None
        self.create_error: httpx.Response | None = None
        self.meters = True
        self.refuses_revoked = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        if path.startswith("/openai/v1/api-keys"):
            assert request.headers["authorization"] == f"Bearer {ADMIN_KEY}"
            return self.keys(request)
        if path == "/openai/v1/usage/history":
            assert request.url.params["key_id"] == KEY_ID
            results = [{"requests": self.metered, "total_tokens": 30 * self.metered}]
            return httpx.Response(200, json={"data": [{"results": results}]})
        assert request.headers["authorization"] == f"Bearer {PLAINTEXT}"
        if self.revoked and self.refuses_revoked:
            return error(401, "Invalid API Key", "invalid_api_key")
        if path == "/openai/v1/models":
            return httpx.Response(200, json={"object": "list", "data": []})
        assert path == "/openai/v1/chat/completions"
        if self.chat_error is not None:
            return self.chat_error
        if self.meters:
            self.metered += 1
        if json.loads(request.content).get("stream"):
            return self.stream()
        message = {"role": "assistant", "content": "Hello there, friend."}
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "llama-3.1-8b-instant",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
            },
        )

    def keys(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            if self.create_error is not None:
                return self.create_error
            self.created = json.loads(request.content)
            return httpx.Response(
                201, json={**self.created, "id": KEY_ID, "key": PLAINTEXT, "status": "active"}
            )
        assert request.method == "DELETE"
        assert request.url.path == f"/openai/v1/api-keys/{KEY_ID}"
        self.revoked = True
        return httpx.Response(200, json={"id": KEY_ID, "status": "revoked"})

    @staticmethod
    def stream() -> httpx.Response:
        events = []
        for word in ["Hello", " there", "."]:
            chunk = {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "llama-3.1-8b-instant",
                "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
            }
            events.append(f"data: {json.dumps(chunk)}\n\n")
        events.append("data: [DONE]\n\n")
        return httpx.Response(
            200, content="".join(events).encode(), headers={"content-type": "text/event-stream"}
        )


def run_smoke(gateway: FakeGateway, **options: Any) -> int:
    transport = httpx.MockTransport(gateway)
    admin = AdminClient(URL, AdminKeyAuth(ADMIN_KEY), transport=transport)
    smoke = Smoke(
        admin,
        openai,
        now=lambda: NOW,
        sleep=lambda seconds: None,
        http_client=httpx.Client(transport=transport),
        **options,
    )
    try:
        return smoke.run()
    finally:
        admin.close()


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_every_check_passes_on_a_working_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = FakeGateway()
    assert run_smoke(gateway) == 0
    out = lines(capsys)
    assert [line.partition(":")[0] for line in out] == [
        "ok   create key",
        "ok   chat completion",
        "ok   streamed chat completion",
        "ok   usage metered",
        "ok   revoke key",
        "ok   revoked key refused",
    ]
    assert gateway.created == {
        "name": "smoke-20261126T163713Z",
        "description": "groq-gateway smoke: revoked by the command when it ends",
        "allowed_models": ["llama-3.1-8b-instant"],
        "allowed_endpoints": ["chat", "models"],
        "monthly_budget_usd": "0.05",
        "expires_at": "2026-11-26T16:52:13Z",
    }
    assert "3 chunks" in out[2]
    assert "2 requests, 60 tokens" in out[3]
    assert gateway.requests.count(("DELETE", f"/openai/v1/api-keys/{KEY_ID}")) == 1


def test_an_upstream_key_not_stored_fails_the_chat_and_the_key_is_revoked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = FakeGateway()
    gateway.chat_error = error(
        503,
        "The gateway has no upstream Groq key configured yet; an operator must store one in "
        "the upstream key secret.",
        "service_unavailable",
    )
    assert run_smoke(gateway) == 1
    out = lines(capsys)
    assert out[0].startswith("ok   create key")
    assert out[1].startswith("FAIL chat completion: the proxy answered 503 service_unavailable")
    assert out[1].endswith(
        "— look at is the upstream Groq key stored? see docs/operations.md#first-deployment"
    )
    assert out[2] == f"ok   clean up: revoked smoke-20261126T163713Z ({KEY_ID})"
    assert len(out) == 3
    assert gateway.revoked


def test_usage_that_never_appears_fails_and_the_key_is_revoked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = FakeGateway()
    gateway.meters = False
    assert run_smoke(gateway, usage_wait=0.0) == 1
    out = lines(capsys)
    assert out[3].startswith("FAIL usage metered: after 0 s the usage history shows 0 of 2")
    assert "settlement" in out[3]
    assert out[4].startswith("ok   clean up: revoked")
    assert gateway.revoked


def test_a_revoked_key_the_proxy_still_accepts_fails(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = FakeGateway()
    gateway.refuses_revoked = False
    assert run_smoke(gateway, refusal_wait=0.0) == 1
    out = lines(capsys)
    assert out[4].startswith("ok   revoke key")
    assert out[5].startswith("FAIL revoked key refused: the proxy still accepts the key")
    assert len(out) == 6  # already revoked: nothing to clean up
    assert gateway.requests.count(("DELETE", f"/openai/v1/api-keys/{KEY_ID}")) == 1


def test_a_refused_admin_key_fails_the_first_check_and_creates_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = FakeGateway()
    gateway.create_error = error(401, "Invalid API Key", "invalid_api_key")
    assert run_smoke(gateway) == 1
    (line,) = lines(capsys)
    assert line.startswith("FAIL create key: the admin API answered Invalid API Key (HTTP 401")
    assert "--admin-key" in line
    assert [method for method, _ in gateway.requests] == ["POST"]


def test_without_the_openai_package_one_line_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # `import openai` raises ImportError
    code = cli_main.main(["smoke", "--url", URL, "--admin-key", ADMIN_KEY])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("groq-gateway: ")
    assert captured.err.rstrip().endswith("pip install openai")
