"""Usage reports over the proxy's metering items and spend counters.

Metering items are written the way the proxy's settlement writes them
(:func:`groq_gateway.store.usage.usage_update`), and reservations through the counters'
own admission, so these tests read exactly what production stores.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from groq_gateway.admin.usage import UsageReports
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.limits import AdmissionPlan, Scope, SpendReservation
from groq_gateway.core.periods import month_end, month_of, utcnow
from groq_gateway.core.records import GatewayKey, KeyStatus, SecretVersion, UsageRecord
from groq_gateway.store import GatewayStore
from groq_gateway.store.usage import usage_update
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
SMALL, LARGE = "llama-3.1-8b-instant", "llama-3.3-70b-versatile"


def meter(
    store: GatewayStore,
    key: dict[str, Any],
    at: datetime,
    model: str = SMALL,
    *,
    prompt: int = 100,
    completion: int = 20,
    cost_micros: int = 7,
    **flags: bool,
) -> None:
    record = UsageRecord(
        key_id=str(key["id"]),
        team_id=key["team"],
        model=model,
        at=at,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_micros=cost_micros,
        **flags,
    )
    store.table.call("update_item", **usage_update(store.table, record))


def reserve(
    store: GatewayStore,
    scope: Scope,
    scope_id: str,
    micros: int,
    at: datetime,
    billing_tz: tzinfo = UTC,
    team_id: str | None = None,
) -> None:
    reservation = SpendReservation(scope, scope_id, month_of(at, billing_tz), micros, None)
    store.counters.admit(AdmissionPlan(reservations=(reservation,), at=at, team_id=team_id))


async def test_the_seeds_usage_call_answers_its_jq_fields(gateway: LocalGateway) -> None:
    now = utcnow()
    await gateway.client.post(
        "/openai/v1/teams", json={"id": "chatbot", "monthly_budget_usd": 100}, headers=ADMIN
    )
    chatbot = await gateway.create_key(name="chatbot-prod", team="chatbot", monthly_budget_usd=5)
    batch = await gateway.create_key(name="batch-processor")
    idle = await gateway.create_key(name="idle")
    meter(gateway.store, chatbot, now, SMALL, prompt=100, completion=20, cost_micros=7)
    meter(gateway.store, chatbot, now, SMALL, prompt=50, completion=10, cost_micros=3)
    meter(gateway.store, chatbot, now, LARGE, prompt=1000, completion=500, cost_micros=985)
    meter(gateway.store, batch, now, SMALL, prompt=10, completion=0, cost_micros=0, unpriced=True)
    reserve(gateway.store, Scope.KEY, str(chatbot["id"]), 1_500_000, now, team_id="chatbot")

    response = await gateway.client.get("/openai/v1/usage", headers=ADMIN)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["date"] == now.date().isoformat()
    assert datetime.fromisoformat(summary["resets_at"]) == month_end(now)
    # jq '.usage_by_key[] | {key_name, requests_today, tokens_today, estimated_cost_usd}'
    picked = [
        {f: row[f] for f in ("key_name", "requests_today", "tokens_today", "estimated_cost_usd")}
        for row in summary["usage_by_key"]
    ]
    assert picked == [
        {
            "key_name": "batch-processor",
            "requests_today": 1,
            "tokens_today": 10,
            "estimated_cost_usd": 0,
        },
        {
            "key_name": "chatbot-prod",
            "requests_today": 3,
            "tokens_today": 1680,
            "estimated_cost_usd": 0.000995,
        },
        {"key_name": "idle", "requests_today": 0, "tokens_today": 0, "estimated_cost_usd": 0},
    ]
    by_name = {row["key_name"]: row for row in summary["usage_by_key"]}
    assert by_name["batch-processor"]["today"]["unpriced_requests"] == 1
    assert by_name["chatbot-prod"]["budget"] == {
        "monthly_budget_usd": 5,
        "committed_usd": 1.5,
        "leased_usd": 0,
        "remaining_usd": 3.5,
        "resets_at": summary["resets_at"],
    }
    assert by_name["idle"]["key_id"] == idle["id"]
    assert by_name["idle"]["budget"] is None

    (team,) = summary["usage_by_team"]
    assert (team["team"], team["requests_today"], team["tokens_today"]) == ("chatbot", 3, 1680)
    assert team["budget"]["monthly_budget_usd"] == 100
    assert team["budget"]["committed_usd"] == 0
    organization = summary["organization"]
    assert organization["requests_today"] == 4
    assert organization["month_to_date"]["cost_usd"] == 0.000995
    cap = gateway.settings.org_monthly_cap_usd
    assert organization["budget"] == (
        None
        if cap == 0
        else {
            "monthly_budget_usd": float(cap),
            "committed_usd": 0,
            "leased_usd": 0,
            "remaining_usd": float(cap),
            "resets_at": summary["resets_at"],
        }
    )


def test_month_to_date_starts_on_the_first_and_today_is_utc(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    reports = UsageReports(store, org_cap_usd=Decimal(1000), now=lambda: now)
    key = _stored_key(store, "k", team=None)
    revoked_quiet = _stored_key(store, "revoked-quiet", team=None, revoked=True)
    revoked_busy = _stored_key(store, "revoked-busy", team=None, revoked=True)
    meter(store, key, datetime(2026, 10, 31, 23, 59, tzinfo=UTC), cost_micros=1_000)  # last month
    meter(store, key, datetime(2026, 11, 1, 0, 0, tzinfo=UTC), cost_micros=200)
    meter(store, key, datetime(2026, 11, 26, 0, 0, tzinfo=UTC), cost_micros=30)
    meter(store, revoked_busy, datetime(2026, 11, 2, tzinfo=UTC), cost_micros=4)
    reserve(store, Scope.ORG, "org", 234, now)

    summary = reports.summary()
    rows = {row.key_name: row for row in summary.usage_by_key}
    assert set(rows) == {"k", "revoked-busy"}
    assert revoked_quiet["id"] not in {row.key_id for row in summary.usage_by_key}
    assert (rows["k"].requests_today, rows["k"].estimated_cost_usd) == (1, Decimal("0.00003"))
    assert rows["k"].month_to_date.requests == 2
    assert rows["k"].month_to_date.cost_usd == Decimal("0.00023")
    assert summary.organization.month_to_date.requests == 3
    assert summary.organization.budget is not None
    assert summary.organization.budget.committed_usd == Decimal("0.000234")
    assert summary.organization.budget.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert summary.month == "2026-11"


def test_budgets_follow_the_billing_timezone(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    new_york = ZoneInfo("America/New_York")
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # still November 30 in New York
    reports = UsageReports(store, org_cap_usd=Decimal(10), billing_tz=new_york, now=lambda: now)
    key = _stored_key(store, "k", team=None)
    meter(store, key, datetime(2026, 10, 31, 12, tzinfo=UTC), cost_micros=1)
    meter(store, key, datetime(2026, 11, 1, 12, tzinfo=UTC), cost_micros=10)
    meter(store, key, now, cost_micros=100)
    reserve(store, Scope.ORG, "org", 5_000_000, now, new_york)

    summary = reports.summary()
    assert (summary.date, summary.month) == (date(2026, 12, 1), "2026-11")
    assert summary.resets_at == datetime(2026, 12, 1, tzinfo=new_york)
    (row,) = summary.usage_by_key
    assert row.requests_today == 1
    assert row.month_to_date.cost_usd == Decimal("0.00011")
    assert summary.organization.budget is not None
    assert summary.organization.budget.remaining_usd == Decimal(5)


def _stored_key(
    store: GatewayStore, name: str, *, team: str | None, revoked: bool = False
) -> dict[str, Any]:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    at = datetime(2026, 10, 1, tzinfo=UTC)
    key = GatewayKey(
        key_id=minted.key_id,
        name=name,
        team_id=team,
        status=KeyStatus.REVOKED if revoked else KeyStatus.ACTIVE,
        created_at=at,
        updated_at=at,
        secrets=[SecretVersion(secret_hash=minted.secret_hash, display_prefix="p", created_at=at)],
    )
    store.keys.create(key)
    return {"id": key.key_id, "team": team}


async def history(gateway: LocalGateway, **params: Any) -> Any:
    return await gateway.client.get("/openai/v1/usage/history", params=params, headers=ADMIN)


async def test_history_in_buckets_grouped_and_filtered(gateway: LocalGateway) -> None:
    await gateway.client.post("/openai/v1/teams", json={"id": "research"}, headers=ADMIN)
    alpha = await gateway.create_key(name="alpha", team="research")
    beta = await gateway.create_key(name="beta")
    days = {
        "oct": datetime(2026, 10, 30, 9, tzinfo=UTC),
        "nov2": datetime(2026, 11, 2, 9, tzinfo=UTC),
        "nov3": datetime(2026, 11, 3, 9, tzinfo=UTC),
    }
    meter(gateway.store, alpha, days["oct"], SMALL, cost_micros=10)
    meter(gateway.store, alpha, days["nov2"], LARGE, cost_micros=20)
    meter(gateway.store, alpha, days["nov3"], SMALL, cost_micros=40)
    meter(gateway.store, beta, days["nov3"], SMALL, cost_micros=80, estimated=True)

    by_model = await history(
        gateway, start="2026-11-01", end="2026-11-03", bucket="day", group_by="model"
    )
    assert by_model.status_code == 200, by_model.text
    body = by_model.json()
    assert [(b["start"], b["end"]) for b in body["data"]] == [
        ("2026-11-01", "2026-11-01"),
        ("2026-11-02", "2026-11-02"),
        ("2026-11-03", "2026-11-03"),
    ]
    assert body["data"][0]["results"] == []
    (nov3,) = body["data"][2]["results"]
    assert (nov3["model"], nov3["requests"], nov3["cost_usd"], nov3["key_id"]) == (
        SMALL,
        2,
        0.00012,
        None,
    )
    assert nov3["estimated_requests"] == 1
    assert nov3["total_tokens"] == 240

    monthly = await history(
        gateway, start="2026-10-15", end="2026-11-20", bucket="month", group_by="key,team"
    )
    buckets = monthly.json()["data"]
    assert [(b["start"], b["end"]) for b in buckets] == [
        ("2026-10-15", "2026-10-31"),
        ("2026-11-01", "2026-11-20"),
    ]
    november = {(r["key_name"], r["team"]): r["cost_usd"] for r in buckets[1]["results"]}
    assert november == {("alpha", "research"): 0.00006, ("beta", None): 0.00008}

    team_only = await history(
        gateway, start="2026-10-01", end="2026-11-30", bucket="month", team="research"
    )
    totals = [sum(r["requests"] for r in b["results"]) for b in team_only.json()["data"]]
    assert totals == [1, 2]
    one_key = await history(
        gateway, start="2026-11-01", end="2026-11-30", bucket="month", key_id=beta["id"]
    )
    assert one_key.json()["data"][0]["results"][0]["requests"] == 1
    one_model = await history(
        gateway, start="2026-10-01", end="2026-11-30", bucket="month", model=LARGE
    )
    assert [[r["requests"] for r in b["results"]] for b in one_model.json()["data"]] == [[], [1]]


@pytest.mark.parametrize(
    ("params", "status", "param"),
    [
        ({"start": "2026-11-05", "end": "2026-11-01"}, 400, "start"),
        ({"start": "2025-01-01", "end": "2026-11-01"}, 400, "start"),
        ({"start": "2026-11-01", "group_by": "colour"}, 400, "group_by"),
        ({"start": "2026-11-01", "bucket": "week"}, 400, "bucket"),
        ({"start": "yesterday"}, 400, "start"),
        ({}, 400, "start"),
        ({"start": "2026-11-01", "key_id": "0123456789abcdef"}, 404, None),
    ],
)
async def test_history_refuses_what_it_cannot_answer(
    gateway: LocalGateway, params: dict[str, Any], status: int, param: str | None
) -> None:
    response = await history(gateway, **params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param


async def test_history_ends_today_by_default(gateway: LocalGateway) -> None:
    key = await gateway.create_key(name="k")
    now = utcnow()
    meter(gateway.store, key, now)
    yesterday = date.fromordinal(now.date().toordinal() - 1).isoformat()
    response = await history(gateway, start=yesterday)
    assert response.status_code == 200
    assert [(b["end"], len(b["results"])) for b in response.json()["data"]] == [
        (yesterday, 0),
        (now.date().isoformat(), 1),
    ]
