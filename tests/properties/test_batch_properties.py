"""Property-based tests of batches (issue #18, finding 1): whatever a batch input file holds (any
mix of allowed and forbidden models, endpoints the key may not use, malformed lines, any size
and output limits) and whoever sees its end first (the client, the poller, both, repeatedly),
nothing forbidden reaches Groq, nothing over a cap is admitted, and an admitted batch is metered
exactly once: its lines in the daily metering, its cost in the month, the rest given back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from groq_gateway.core.limits import Scope
from groq_gateway.core.money import usd_to_micros
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.pricing import default_price_book
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.proxy.batches import read_batch_input
from groq_gateway.store import GatewayStore
from groq_gateway.usage_poller.batch_settlement import settle_ended_batches
from groq_gateway_dev.simulator import SimulatorConfig
from groq_gateway_dev.simulator import create_app as create_simulator
from tests.conftest import UPSTREAM_KEY
from tests.integration.conftest import gateway_settings
from tests.integration.test_store import new_key_with_plaintext
from tests.reliability_report import RELIABILITY

ALLOWED = ["openai/gpt-oss-20b", "llama-3.1-8b-instant"]
FORBIDDEN = ["openai/gpt-oss-120b", "qwen/qwen3.6-27b"]


def chat_line(model: str, max_tokens: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return {"custom_id": "r", "method": "POST", "url": "/v1/chat/completions", "body": body}


MAX_TOKENS = st.integers(min_value=1, max_value=5000)
ALLOWED_LINES = st.builds(chat_line, st.sampled_from(ALLOWED), MAX_TOKENS).map(
    lambda line: ("allowed", json.dumps(line).encode())
)
FORBIDDEN_LINES = st.builds(chat_line, st.sampled_from(FORBIDDEN), MAX_TOKENS).map(
    lambda line: ("forbidden", json.dumps(line).encode())
)
RESPONSES_LINES = st.sampled_from(ALLOWED).map(
    lambda model: (
        "endpoint",
        json.dumps(
            {
                "url": "/v1/responses",
                "body": {"model": model, "input": "hi", "max_output_tokens": 9},
            }
        ).encode(),
    )
)
MALFORMED_LINES = st.one_of(
    st.binary(min_size=1, max_size=30).filter(lambda raw: raw.strip() and b"\n" not in raw),
    st.sampled_from(
        [
            b"[1, 2]",
            b'{"url": "/v1/chat/completions"}',
            b'{"url": "/v1/chat/completions", "body": {"model": ""}}',
            b'{"url": "/v1/embeddings", "body": {"model": "openai/gpt-oss-20b"}}',
            b'{"url": "/v1/chat/completions", "body": {"model": "openai/gpt-oss-20b", '
            b'"max_tokens": -1}}',
            # No output limit: nothing would bound what Groq produces for the line.
            b'{"url": "/v1/chat/completions", "body": {"model": "openai/gpt-oss-20b", '
            b'"messages": []}}',
        ]
    ),
).map(lambda raw: ("malformed", raw))
BAD_LINES = st.one_of(FORBIDDEN_LINES, RESPONSES_LINES, MALFORMED_LINES)


@st.composite
def batch_files(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """Allowed lines, and about half the time a few others in among them."""
    lines = draw(st.lists(ALLOWED_LINES, max_size=25))
    for bad in draw(st.lists(BAD_LINES, max_size=3) | st.just([])):
        lines.insert(draw(st.integers(0, len(lines))), bad)
    return lines


BUDGETS = st.sampled_from([None, Decimal(0), Decimal("0.0005"), Decimal(5)])
# Who looks at the batch once it ended, in order: the client's GET, its list, the poller.
OBSERVERS = st.lists(st.sampled_from(["get", "list", "poll"]), min_size=1, max_size=4)
ENDS = st.sampled_from(["completed", "completed", "cancelled", "expired", "failed"])


@dataclass
class Batches:
    proxy: TestClient
    upstream: TestClient  # the same simulator, as the poller reaches it
    simulator: Starlette
    settings: Settings
    store: GatewayStore

    def batches_created_at_groq(self) -> int:
        log = self.upstream.get("/_simulator/requests").json()
        return sum(
            1 for call in log if (call["method"], call["path"]) == ("POST", "/openai/v1/batches")
        )

    def poll(self) -> int:
        prices = default_price_book()
        return settle_ended_batches(
            self.settings, self.store, prices, utcnow(), client=cast(httpx.Client, self.upstream)
        )


@pytest.fixture
def batches(local_aws: dict[str, str]) -> Iterator[Batches]:
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    settings = gateway_settings(local_aws)
    proxy = create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=simulator))
    with (
        TestClient(proxy, raise_server_exceptions=False) as proxy_client,
        TestClient(simulator, base_url=settings.upstream_root) as upstream,
    ):
        yield Batches(
            proxy_client, upstream, simulator, settings, GatewayStore(settings.table_name)
        )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    lines=batch_files(),
    budget=BUDGETS,
    end=ENDS,
    ran=st.none() | st.integers(0, 30),
    observers=OBSERVERS,
)
def test_a_batch_is_refused_or_admitted_and_metered_exactly_once(
    batches: Batches,
    lines: list[tuple[str, bytes]],
    budget: Decimal | None,
    end: str,
    ran: int | None,
    observers: list[str],
) -> None:
    RELIABILITY.count_money("batches tried")
    RELIABILITY.count_money("batches lost", 0)  # shown as 0 unless a case below loses one
    key, plaintext = new_key_with_plaintext(
        allowed_models=ALLOWED,
        allowed_endpoints=["chat", "files", "batches"],
        monthly_budget_usd=budget,
    )
    batches.store.keys.create(key)
    headers = {"authorization": f"Bearer {plaintext}"}
    content = b"\n".join(raw for _, raw in lines)
    before = batches.batches_created_at_groq()

    uploaded = batches.proxy.post(
        "/openai/v1/files",
        files={"file": ("batch.jsonl", content)},
        data={"purpose": "batch"},
        headers=headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    created = batches.proxy.post(
        "/openai/v1/batches",
        json={
            "input_file_id": uploaded.json()["id"],
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
        headers=headers,
    )

    kinds = {kind for kind, _ in lines}
    worst = read_batch_input(content).worst_case_micros(default_price_book())
    over_budget = budget is not None and worst > usd_to_micros(budget)
    expected: tuple[int, str | None]
    if "malformed" in kinds or not lines:
        expected = (400, "invalid_batch_file")
    elif "endpoint" in kinds:  # endpoints are checked before models
        expected = (403, "endpoint_not_allowed")
    elif "forbidden" in kinds:
        expected = (403, "model_not_available")
    elif over_budget:
        expected = (429, "spending_cap_reached")
    else:
        expected = (200, None)
    status = created.status_code
    code = created.json().get("error", {}).get("code") if status != 200 else None
    month = month_of(utcnow())
    if (status, code) != expected:
        RELIABILITY.count_money("batches lost")
    assert (status, code) == expected, created.text
    if status != 200:
        RELIABILITY.count_money("batches refused")
        assert batches.batches_created_at_groq() == before  # nothing reached Groq
        spend = batches.store.counters.month_spend(Scope.KEY, key.key_id, month)
        assert spend.committed_micros == 0
        return

    batch_id = created.json()["id"]
    assert batches.batches_created_at_groq() == before + 1
    ended = batches.upstream.post(
        f"/_simulator/batches/{batch_id}/end",
        json={"status": end, "lines": ran},  # None: all
    )
    assert ended.status_code == 200, ended.text
    settled = 0
    for observer in observers:
        if observer == "poll":
            settled += batches.poll()
        else:
            path = f"/openai/v1/batches/{batch_id}" if observer == "get" else "/openai/v1/batches"
            assert batches.proxy.get(path, headers=headers).status_code == 200
    settled += batches.poll()  # whoever came first, the poller finds nothing left to do

    record = batches.store.batches.batch(key.key_id, batch_id)
    assert record is not None
    today = utcnow().date().isoformat()
    usage = list(batches.store.usage.for_key(key.key_id, today, today))
    metered_lines = sum(u.requests for u in usage)
    cost = sum(u.cost_micros for u in usage)
    ran_lines = len(lines) if ran is None else min(ran, len(lines))
    exactly_once = (
        record.state == "metered"
        and settled <= 1
        and record.lines_metered == metered_lines == ran_lines
        and record.cost_micros == cost
    )
    if not exactly_once:
        RELIABILITY.count_money("batches lost")
    assert exactly_once, (record, usage, settled)
    if budget is not None:
        spend = batches.store.counters.month_spend(Scope.KEY, key.key_id, month)
        assert spend.committed_micros == spend.spent_micros == cost
        assert cost <= record.reserved_micros
    RELIABILITY.count_money("batches metered")
    RELIABILITY.count_money("batch lines metered", metered_lines)
