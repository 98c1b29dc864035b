"""The upstream key as the proxy sees it: an unreadable or empty secret is a 503, never a
request to Groq without a key."""

from __future__ import annotations

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
