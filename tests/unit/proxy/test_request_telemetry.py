"""The proxy's one line a request (proxy/telemetry.py): a valid CloudWatch embedded-metric-format
document whose other members are the log fields, small, and free of key material."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.metric_names import series_of
from groq_gateway.core.observability import NAMESPACE, SERVICE, logger
from groq_gateway.proxy.telemetry import RequestTelemetry

# What a line may weigh on stdout (newline included) for a stack named groq-gateway: issue
# #17's target, for every kind of request (docs/performance.md#logs; each directive repeats the
# namespace). tests/integration/test_request_line.py measures the same through the real proxy.
DEPLOYED_NAMESPACE = "GroqGateway/groq-gateway"
LINE_BYTES = 600
# EMF's MetricDefinition units (the default, when left out, is "None").
UNITS = {"Count", "Milliseconds", "None"}


def typical(key_id: str = "k7w2m9q4x1c8v5b3", team_id: str | None = "chatbot") -> RequestTelemetry:
    """A chat completion through a key in a team: 500 prompt + 200 completion tokens."""
    return RequestTelemetry(
        path="chat/completions",
        key_id=key_id,
        team_id=team_id,
        model="openai/gpt-oss-20b",
        status=200,
        prompt_tokens=500,
        completion_tokens=200,
        cost_micros=97,
        upstream_attempts=1,
        upstream_ms=512.345678,
        total_ms=515.67891,
    )


def rejection() -> RequestTelemetry:
    return RequestTelemetry(
        path="chat/completions",
        key_id="k7w2m9q4x1c8v5b3",
        team_id="chatbot",
        model="openai/gpt-oss-20b",
        status=429,
        rejection="rate_limit_exceeded",
        total_ms=1.234,
    )


def printed(telemetry: RequestTelemetry, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    telemetry.publish()
    return capsys.readouterr().out


def assert_valid_emf(document: dict[str, Any]) -> set[tuple[str, frozenset[str]]]:
    """The specification's rules for what the proxy writes; returns the series it yields."""
    metadata = document["_aws"]
    assert set(metadata) == {"Timestamp", "CloudWatchMetrics"}
    assert isinstance(metadata["Timestamp"], int)
    series = set()
    for directive in metadata["CloudWatchMetrics"]:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert directive["Namespace"] == NAMESPACE
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                value = document[dimension]  # a dimension is a top-level string member
                assert isinstance(value, str)
                assert value.strip()
                assert value.isascii()
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit"}
            assert metric.get("Unit", "None") in UNITS
            value = document[metric["Name"]]  # a metric is a top-level number member
            assert isinstance(value, int | float)
            assert not isinstance(value, bool)
            for dimension_set in directive["Dimensions"]:
                assert series_of(metric["Name"], dimension_set) is not None, metric["Name"]
                series.add((metric["Name"], frozenset(dimension_set)))
    return series


def test_a_request_is_one_line_that_is_valid_emf(capsys: pytest.CaptureFixture[str]) -> None:
    [line] = printed(typical(), capsys).splitlines()
    document = json.loads(line)
    series = assert_valid_emf(document)
    assert ("Requests", frozenset({"service"})) in series  # Proxy5xxAlarm's denominator
    assert ("Requests", frozenset({"model", "service"})) in series  # the dashboard's
    assert ("GatewayOverheadMs", frozenset({"service"})) in series
    # One directive carries every value of a forwarded request, under both dimension sets.
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["service"], ["model", "service"]]
    assert ("UpstreamLatencyMs", frozenset({"model", "service"})) in series
    assert "CostUSD" not in document  # metered in DynamoDB; nothing in template.yaml read it
    assert (document["service"], document["model"]) == (SERVICE, "openai/gpt-oss-20b")
    assert (document["PromptTokens"], document["CompletionTokens"]) == (500, 200)
    # The log fields, in the same line.
    assert (document["path"], document["status"]) == ("chat/completions", 200)
    assert (document["key_id"], document["team_id"]) == ("k7w2m9q4x1c8v5b3", "chatbot")
    assert document["UpstreamLatencyMs"] == 512.3
    assert "after_response_ms" in document


def test_the_alarm_counters_appear_when_they_count(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = json.loads(printed(typical(), capsys))
    assert {"Gateway5xx", "Upstream429", "Upstream5xx"}.isdisjoint(quiet)
    # Forwarded with a model: the alarm counters keep to service alone (what the alarms read).
    retried = typical()
    retried.upstream_429, retried.upstream_attempts = 1, 2
    series = assert_valid_emf(json.loads(printed(retried, capsys)))
    assert ("Upstream429", frozenset({"service"})) in series
    assert ("Upstream429", frozenset({"model", "service"})) not in series
    failing = RequestTelemetry(path="chat/completions", status=502, upstream_429=2)
    failing.failed(RuntimeError("a gateway bug"))
    document = json.loads(printed(failing, capsys))
    series = assert_valid_emf(document)
    assert {("Gateway5xx", frozenset({"service"})), ("Upstream429", frozenset({"service"}))} <= (
        series
    )
    assert (document["Gateway5xx"], document["Upstream429"], document["Requests"]) == (1, 2, 1)
    assert document["error_type"] == "RuntimeError"


def test_a_rejection_counts_by_reason(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(printed(rejection(), capsys))
    series = assert_valid_emf(document)
    assert ("Rejections", frozenset({"reason", "service"})) in series
    assert document["reason"] == "rate_limit_exceeded"
    # Never forwarded: no per-model series, no latencies; the model is a log field only.
    assert ("Requests", frozenset({"model", "service"})) not in series
    assert "UpstreamLatencyMs" not in document
    assert document["model"] == "openai/gpt-oss-20b"


@pytest.mark.parametrize(
    "telemetry",
    [typical(), typical(team_id=None), rejection()],
    ids=["forwarded-team-key", "forwarded-key-without-team", "rejection"],
)
def test_a_line_stays_within_600_bytes(
    telemetry: RequestTelemetry, capsys: pytest.CaptureFixture[str]
) -> None:
    line = printed(telemetry, capsys)
    deployed = line.replace(f'"{NAMESPACE}"', f'"{DEPLOYED_NAMESPACE}"')
    assert deployed.count(DEPLOYED_NAMESPACE) == len(json.loads(line)["_aws"]["CloudWatchMetrics"])
    assert len(deployed.encode()) <= LINE_BYTES, (len(deployed.encode()), deployed)


def test_above_info_the_line_keeps_only_the_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    standard = logging.getLogger(logger.name)
    level = standard.level
    standard.setLevel(logging.WARNING)
    try:
        document = json.loads(printed(typical(), capsys))
    finally:
        standard.setLevel(level)
    assert_valid_emf(document)
    assert {"key_id", "team_id", "path", "status"}.isdisjoint(document)
    assert document["Requests"] == 1


def test_no_key_material_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    secret = minted.plaintext.rsplit("_", 1)[1]
    line = printed(typical(key_id=minted.key_id), capsys)
    assert minted.key_id in line
    assert secret not in line
    assert minted.secret_hash not in line
    assert minted.plaintext not in line
