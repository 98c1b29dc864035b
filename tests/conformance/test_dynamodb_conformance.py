"""The store against two local DynamoDBs: moto's server and dynalite, which validates
requests more strictly, so that no emulator's leniency hides a bug.

dynalite implements neither transactions nor TTL settings: what needs them (admission and
settlement across several counters) runs against moto only, and says so.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from groq_gateway.core.limits import (
    AdmissionPlan,
    LimitExceededError,
    LimitKind,
    Scope,
    SpendReservation,
    WindowCount,
)
from groq_gateway.core.periods import minute_of
from groq_gateway.core.records import KeyStatus, UsageRecord
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.counters import Admission
from tests.conftest import DynamoDbUnderTest
from tests.integration.test_store import NOW, new_key


@pytest.fixture
def store(each_dynamodb: DynamoDbUnderTest) -> GatewayStore:
    return each_dynamodb.store


def window_plan(max_requests: int, at: datetime = NOW) -> AdmissionPlan:
    return AdmissionPlan(
        windows=(WindowCount(Scope.KEY, "k" * 16, minute_of(at), 10, max_requests, None),),
        at=at,
    )


# -- keys -----------------------------------------------------------------------------------


def test_keys_round_trip_and_conditions(store: GatewayStore) -> None:
    key = new_key(monthly_budget_usd=Decimal("12.50"), expires_at=NOW + timedelta(days=1))
    store.keys.create(key)
    assert store.keys.get(key.key_id) == key
    with pytest.raises(ConditionFailedError):
        store.keys.create(key)
    revoked = store.keys.set_status(key, KeyStatus.REVOKED, NOW)
    with pytest.raises(ConditionFailedError):
        store.keys.set_status(key, KeyStatus.ACTIVE, NOW)
    assert store.keys.get(key.key_id) == revoked


def test_keys_list_through_the_index_in_pages(store: GatewayStore) -> None:
    keys = [new_key(f"key-{n}") for n in range(5)]
    for key in keys:
        store.keys.create(key)
    assert {k.key_id for k in store.keys.list_all(page_size=2)} == {k.key_id for k in keys}


# -- admission on one counter (a single conditional UpdateItem) -----------------------------


def test_a_single_window_admits_exactly_its_limit(store: GatewayStore) -> None:
    admitted = [store.counters.admit(window_plan(3)) for _ in range(3)]
    assert [a.counts and a.counts["requests"] for a in admitted] == [1, 2, 3]
    with pytest.raises(LimitExceededError) as refused:
        store.counters.admit(window_plan(3))
    assert refused.value.kind is LimitKind.REQUESTS
    assert refused.value.limit == 3
    # The next minute is a new window.
    store.counters.admit(window_plan(3, NOW + timedelta(minutes=1)))


def test_concurrent_single_window_admissions_never_exceed_the_limit(
    store: GatewayStore,
) -> None:
    results: list[bool] = []

    def attempt() -> None:
        try:
            store.counters.admit(window_plan(10))
            results.append(True)
        except LimitExceededError:
            results.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 10
    assert store.counters.window(Scope.KEY, "k" * 16, minute_of(NOW)) == (10, 100)


def test_a_single_spend_reservation_settles_to_the_real_cost(store: GatewayStore) -> None:
    plan = AdmissionPlan(
        reservations=(SpendReservation(Scope.KEY, "k" * 16, "2026-11", 500, 1000),), at=NOW
    )
    admission = store.counters.admit(plan)
    store.counters.admit(plan)
    with pytest.raises(LimitExceededError) as capped:
        store.counters.admit(plan)
    assert capped.value.kind is LimitKind.SPEND
    store.counters.settle(admission, micros=120, usage=None)
    spend = store.counters.month_spend(Scope.KEY, "k" * 16, "2026-11")
    assert (spend.committed_micros, spend.spent_micros) == (620, 120)


# -- metering items -------------------------------------------------------------------------


def test_usage_items_add_up_and_query_by_key_and_team(store: GatewayStore) -> None:
    record = UsageRecord(
        key_id="k" * 16,
        team_id="chatbot",
        model="openai/gpt-oss-20b",
        at=datetime(2026, 11, 26, 10, tzinfo=UTC),
        prompt_tokens=10,
        completion_tokens=5,
        cost_micros=3,
    )
    admission = Admission(AdmissionPlan(at=NOW))
    for _ in range(2):
        store.counters.settle(admission, micros=3, usage=record)
    [day] = store.usage.for_key("k" * 16, "2026-11-01", "2026-11-30")
    assert (day.requests, day.prompt_tokens, day.cost_micros) == (2, 20, 6)
    assert day.team_id == "chatbot"
    assert list(store.usage.for_key("k" * 16, "2026-11-27", "2026-11-30")) == []


# -- several counters (transactions): moto only --------------------------------------------


def test_several_counters_move_together_or_not_at_all(
    each_dynamodb: DynamoDbUnderTest, store: GatewayStore
) -> None:
    each_dynamodb.needs_transactions()
    plan = AdmissionPlan(
        windows=(WindowCount(Scope.KEY, "k" * 16, minute_of(NOW), 10, 100, None),),
        reservations=(SpendReservation(Scope.ORG, "org", "2026-11", 600, 1000),),
        at=NOW,
    )
    store.counters.admit(plan)
    with pytest.raises(LimitExceededError) as refused:
        store.counters.admit(plan)
    assert refused.value.scope is Scope.ORG
    # The refused transaction did not count the request in the key's window either.
    assert store.counters.window(Scope.KEY, "k" * 16, minute_of(NOW)) == (1, 10)
