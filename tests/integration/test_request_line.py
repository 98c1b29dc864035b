"""The bytes the real proxy writes to stdout for one request (issue #17: at most 600 at the
default log level, INFO), measured through the whole pipeline in-process (admission, moto's
DynamoDB, the simulator as Groq, settlement, the after-response line), for a key in a team and a
key without one (both with per-minute limits and monthly budgets, the team too) and a refusal;
and what those lines carry is what template.yaml's alarms and dashboard read.

The namespace is the one a stack named ``groq-gateway`` writes (``GroqGateway/groq-gateway``:
each directive repeats it, so each character of a stack name adds a byte per directive).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from groq_gateway.core.observability import NAMESPACE, logger
from tests.integration.conftest import LocalGateway
from tests.integration.test_proxy_limits_and_metering import add_key, add_team, chat
from tests.minute_window import in_one_window

pytestmark = pytest.mark.anyio

DEPLOYED_NAMESPACE = "GroqGateway/groq-gateway"
LINE_BYTES = 600
# A typical request, as docs/cost.md prices it: 500 prompt and 200 completion tokens asked for.
TYPICAL = {"messages": [{"role": "user", "content": "Hello " * 500}], "max_tokens": 200}


@pytest.fixture(autouse=True)
def info_level() -> Iterator[None]:
    """The template's default LogLevel: the line carries its log fields."""
    standard = logging.getLogger(logger.name)
    level = standard.level
    standard.setLevel(logging.INFO)
    yield
    standard.setLevel(level)


def request_lines(output: str) -> list[str]:
    """The proxy's request lines in ``output`` (an EMF document counting ``Requests``)."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("{") and '"_aws"' in line and '"Requests"' in line
    ]


def deployed_bytes(line: str) -> int:
    """What ``line`` weighs on a stack named groq-gateway, its newline included."""
    directives = len(json.loads(line)["_aws"]["CloudWatchMetrics"])
    deployed = line.replace(f'"{NAMESPACE}"', f'"{DEPLOYED_NAMESPACE}"')
    assert deployed.count(f'"{DEPLOYED_NAMESPACE}"') == directives
    return len(deployed.encode()) + 1


def series(line: str) -> set[tuple[str, frozenset[str]]]:
    document: dict[str, Any] = json.loads(line)
    return {
        (metric["Name"], frozenset(dimensions))
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
        for metric in directive["Metrics"]
    }


# What the template reads from a forwarded request's line and from a refusal's
# (tests/unit/core/test_metric_catalogue.py derives the full set from template.yaml).
FORWARDED_SERIES = {
    ("Requests", frozenset({"service"})),  # Proxy5xxAlarm's denominator
    ("Requests", frozenset({"model", "service"})),  # Requests by model
    ("PromptTokens", frozenset({"model", "service"})),  # Tokens by model
    ("CompletionTokens", frozenset({"model", "service"})),
    ("UpstreamLatencyMs", frozenset({"service"})),  # Upstream latency vs gateway overhead
    ("GatewayOverheadMs", frozenset({"service"})),
}
REFUSED_SERIES = {
    ("Requests", frozenset({"service"})),
    ("Rejections", frozenset({"reason", "service"})),  # Rejections by reason
}


@pytest.mark.parametrize("team", [True, False], ids=["team-key", "key-without-team"])
async def test_a_forwarded_request_writes_at_most_600_bytes(
    gateway: LocalGateway, capsys: pytest.CaptureFixture[str], team: bool
) -> None:
    limits: dict[str, object] = {
        "requests_per_minute": 100,
        "tokens_per_minute": 100_000,
        "monthly_budget_usd": "5",
    }
    if team:
        add_team(gateway, **limits)
    key, plaintext = add_key(gateway, team_id="chatbot" if team else None, **limits)
    capsys.readouterr()
    response = await chat(gateway, plaintext, **TYPICAL)
    assert response.status_code == 200, response.text
    [line] = request_lines(capsys.readouterr().out)
    document = json.loads(line)
    assert (document["key_id"], document.get("team_id")) == (
        key.key_id,
        "chatbot" if team else None,
    )
    assert document["PromptTokens"] >= 500
    assert document["CompletionTokens"] > 0
    assert {"status", "path", "model", "after_response_ms"} <= set(document)
    assert series(line) >= FORWARDED_SERIES
    size = deployed_bytes(line)
    print(f"forwarded ({'team key' if team else 'key without team'}): {size} bytes")
    assert size <= LINE_BYTES, (size, line)


async def test_a_refused_request_writes_at_most_600_bytes(
    gateway: LocalGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    add_team(gateway, requests_per_minute=100, monthly_budget_usd="5")
    _, plaintext = add_key(
        gateway, team_id="chatbot", requests_per_minute=1, monthly_budget_usd="5"
    )
    await in_one_window(10)
    assert (await chat(gateway, plaintext)).status_code == 200
    capsys.readouterr()
    refused = await chat(gateway, plaintext)
    assert refused.status_code == 429
    [line] = request_lines(capsys.readouterr().out)
    document = json.loads(line)
    assert (document["reason"], document["status"]) == ("rate_limit_exceeded", 429)
    assert series(line) >= REFUSED_SERIES
    size = deployed_bytes(line)
    print(f"refused (rate_limit_exceeded, team key): {size} bytes")
    assert size <= LINE_BYTES, (size, line)
