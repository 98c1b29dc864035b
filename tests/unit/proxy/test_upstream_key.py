"""The upstream key as the proxy sees it: an unreadable or empty secret is a 503, never a
request to Groq without a key."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.proxy.upstream import Upstream
from groq_gateway.secrets_manager import (
    SecretNotConfiguredError,
    SecretUnavailableError,
    UpstreamKeys,
)


class FailingKeys(UpstreamKeys):
    def __init__(self, error: Exception) -> None:
        super().__init__("unit/upstream", max_age=60)
        self.error = error

    def active_key(self, *, force: bool = False) -> str:
        raise self.error


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may reach Groq without a key")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (SecretUnavailableError("cannot read secret"), "The gateway cannot read its upstream key."),
        (
            SecretNotConfiguredError("no active key"),
            "The gateway has no upstream Groq key configured yet; an operator must store one "
            "in the upstream key secret.",
        ),
    ],
)
@pytest.mark.anyio
async def test_a_missing_upstream_key_is_a_503(error: Exception, message: str) -> None:
    upstream = Upstream(
        "http://groq.test",
        FailingKeys(error),
        httpx.Timeout(1.0),
        transport=httpx.MockTransport(never_called),
    )
    with pytest.raises(GatewayError) as raised:
        await upstream.send("GET", "models", query="", headers={}, body=b"")
    await upstream.aclose()
    assert (raised.value.status, raised.value.message) == (503, message)
    assert raised.value.code == "service_unavailable"


def test_the_adapter_says_which_secret_holds_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(secret_id: str, **_: Any) -> dict[str, Any]:
        return {"active": "", "staged": []}

    monkeypatch.setattr("groq_gateway.secrets_manager.read_json_secret", read)
    with pytest.raises(SecretNotConfiguredError, match="unit/upstream"):
        UpstreamKeys("unit/upstream", max_age=60).active_key()


def test_the_key_is_held_for_its_cache_life(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("groq_gateway.secrets_manager.time.monotonic", lambda: now[0])
    monkeypatch.setattr(
        "groq_gateway.secrets_manager.read_json_secret", lambda *_, **__: {"active": "gsk_a"}
    )
    keys = UpstreamKeys("unit/upstream", max_age=60)
    assert keys.held_key() is None  # nothing read yet
    assert keys.active_key() == "gsk_a"
    now[0] += 59.9
    assert keys.held_key() == "gsk_a"
    now[0] += 0.1
    assert keys.held_key() is None  # as old as the secret's own cache: read it again


def test_an_empty_secret_drops_the_held_key(monkeypatch: pytest.MonkeyPatch) -> None:
    values = iter([{"active": "gsk_a"}, {"active": ""}])
    monkeypatch.setattr(
        "groq_gateway.secrets_manager.read_json_secret", lambda *_, **__: next(values)
    )
    keys = UpstreamKeys("unit/upstream", max_age=60)
    keys.active_key()
    with pytest.raises(SecretNotConfiguredError):
        keys.active_key(force=True)
    assert keys.held_key() is None


@pytest.mark.anyio
async def test_a_held_key_is_used_without_a_worker_thread_and_a_401_reads_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[tuple[bool, bool]] = []  # (force, on the event loop's thread)

    def read(secret_id: str, *, max_age: float, force: bool = False) -> dict[str, Any]:
        reads.append((force, threading.current_thread() is threading.main_thread()))
        return {"active": f"gsk_{len(reads)}"}

    monkeypatch.setattr("groq_gateway.secrets_manager.read_json_secret", read)
    seen: list[str] = []

    def groq(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(401 if len(seen) == 2 else 200, json={})

    upstream = Upstream(
        "http://groq.test",
        UpstreamKeys("unit/upstream", max_age=60),
        httpx.Timeout(1.0),
        transport=httpx.MockTransport(groq),
    )
    for _ in range(2):
        result = await upstream.send("GET", "models", query="", headers={}, body=b"")
        await result.response.aclose()
    await upstream.aclose()
    # The first request read the key in a worker thread, the second used it as held; Groq's
    # 401 on it made a forced read (in a thread again), and the retry went with the new key.
    assert reads == [(False, False), (True, False)]
    assert seen == ["Bearer gsk_1", "Bearer gsk_1", "Bearer gsk_2"]
