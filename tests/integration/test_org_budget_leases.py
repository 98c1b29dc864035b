"""Organisation budget leases against moto's server: the store's writes, the proxy's use of
them across several instances sharing one cap, and the poller's reclaim."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from groq_gateway.core.budget_leases import LeaseDraw, LeaseRequest, OrgLease
from groq_gateway.core.limits import AdmissionPlan, Scope
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.records import UsageRecord
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.store import GatewayStore, StoreUnavailableError
from groq_gateway.store.counters import Admission
from groq_gateway.store.org_leases import StoredLease
from groq_gateway.usage_poller.lease_reclaim import reclaim_org_leases
from groq_gateway.usage_poller.run import handle_poll_event
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_proxy_limits_and_metering import CHAT, add_key, auth, today

pytestmark = pytest.mark.anyio

MONTH = month_of(utcnow())


def org(store: GatewayStore) -> tuple[int, int]:
    spend = store.counters.month_spend(Scope.ORG, "org", MONTH)
    return spend.committed_micros, spend.spent_micros


def stored_leases(store: GatewayStore) -> list[dict[str, Any]]:
    return list(
        store.table.query_pages(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": "ORG"}, ":prefix": {"S": "LEASE#"}},
        )
    )


def unused_leased(store: GatewayStore) -> int:
    return sum(int(i["granted_micros"]) - int(i["used_micros"]) for i in stored_leases(store))


def assert_books_balance(store: GatewayStore) -> None:
    """With nothing in flight: committed = settled spend + what leases have not used."""
    committed, spent = org(store)
    assert committed == spent + unused_leased(store)
    assert store.counters.month_spend(Scope.ORG, "org", MONTH).leased_micros == unused_leased(store)


def lease_request(micros: int, seconds: float = 60) -> LeaseRequest:
    return LeaseRequest("l1", MONTH, micros, time.time() + seconds)


# -- the store --------------------------------------------------------------------------------


def test_a_lease_is_taken_only_where_the_cap_has_room(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    assert store.org_leases.take(lease_request(600), cap_micros=1000, grace_seconds=600)
    assert org(store) == (600, 0)
    second = LeaseRequest("l2", MONTH, 600, time.time() + 60)
    assert not store.org_leases.take(second, cap_micros=1000, grace_seconds=600)
    assert org(store) == (600, 0)  # nothing half-written
    assert [i["lease_id"] for i in stored_leases(store)] == ["l1"]


def test_settling_on_a_lease_records_spend_and_use_then_release_gives_the_rest_back(
    local_aws: dict[str, str],
) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    request = lease_request(1000)
    assert store.org_leases.take(request, cap_micros=10_000, grace_seconds=600)
    lease = OrgLease(request.lease_id, MONTH, 1000, request.draw_until)
    lease.held_micros, lease.in_flight = 300, 1
    store.counters.settle(
        Admission(AdmissionPlan(), org_draw=LeaseDraw(lease, 300)), micros=120, usage=None
    )
    lease.held_micros, lease.in_flight, lease.used_micros = 0, 0, 120
    assert org(store) == (1000, 120)  # the month's spend counts what live leases used
    # ...which only the lease item holds: the organisation's item was not written
    assert "spent_micros" not in (store.table.get("ORG", f"SPEND#{MONTH}") or {})
    assert_books_balance(store)
    assert store.org_leases.give_back(lease)
    assert org(store) == (120, 120)
    assert store.table.get("ORG", f"SPEND#{MONTH}") == {
        "pk": "ORG",
        "sk": f"SPEND#{MONTH}",
        "committed_micros": 120,
        "spent_micros": 120,
    }
    assert stored_leases(store) == []
    assert not store.org_leases.give_back(lease)  # once only
    assert org(store) == (120, 120)


def test_the_poller_reclaims_a_lease_whose_instance_went_away(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    request = lease_request(1000, seconds=60)
    assert store.org_leases.take(request, cap_micros=10_000, grace_seconds=600)
    lease = OrgLease(request.lease_id, MONTH, 1000, request.draw_until)
    draw = LeaseDraw(lease, 200)
    store.counters.settle(Admission(AdmissionPlan(), org_draw=draw), micros=50, usage=None)
    now = utcnow()
    assert reclaim_org_leases(store, now) == 0  # still inside its window and grace
    assert reclaim_org_leases(store, now + timedelta(seconds=60 + 600 + 2)) == 1
    assert org(store) == (50, 50)
    assert stored_leases(store) == []
    # A settlement that ran after the reclaim commits its cost directly.
    store.counters.settle(Admission(AdmissionPlan(), org_draw=draw), micros=30, usage=None)
    assert org(store) == (80, 80)
    assert stored_leases(store) == []  # no half item re-created
    # And the instance, back from a freeze, finds its lease gone: nothing is given twice.
    lease.used_micros = 80
    assert not store.org_leases.give_back(lease)
    assert org(store) == (80, 80)


def test_a_late_settlement_with_its_metering_item_is_written_whole(
    local_aws: dict[str, str],
) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    request = lease_request(1000, seconds=0)
    assert store.org_leases.take(request, cap_micros=10_000, grace_seconds=0)
    lease = OrgLease(request.lease_id, MONTH, 1000, request.draw_until)
    [expired] = store.org_leases.expired(time.time() + 5)
    assert store.org_leases.give_back(expired)
    usage = UsageRecord(
        key_id="k1", team_id=None, model="openai/gpt-oss-20b", at=utcnow(), cost_micros=70
    )
    store.counters.settle(
        Admission(AdmissionPlan(), org_draw=LeaseDraw(lease, 100)), micros=70, usage=usage
    )
    assert org(store) == (70, 70)  # the transaction ran again without the lease, in full
    [metered] = store.usage.for_key("k1", today(), today())
    assert metered.cost_micros == 70


def test_a_reclaim_loses_to_a_settlement_that_changed_the_lease(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    request = lease_request(1000, seconds=0)
    assert store.org_leases.take(request, cap_micros=10_000, grace_seconds=0)
    later = time.time() + 5
    [seen] = store.org_leases.expired(later)
    lease = OrgLease(request.lease_id, MONTH, 1000, request.draw_until)
    store.counters.settle(
        Admission(AdmissionPlan(), org_draw=LeaseDraw(lease, 100)), micros=40, usage=None
    )
    assert not store.org_leases.give_back(seen)  # it read used 0; the item says 40 now
    [again] = store.org_leases.expired(later)
    assert again == StoredLease(MONTH, request.lease_id, 1000, 40)
    assert store.org_leases.give_back(again)
    assert org(store) == (40, 40)


def test_the_poll_run_reports_reclaimed_leases(local_aws: dict[str, str]) -> None:
    settings = gateway_settings(local_aws, upstream_base_url="http://127.0.0.1:9")
    store = GatewayStore(settings.table_name)
    assert store.org_leases.take(lease_request(500, seconds=0), cap_micros=10_000, grace_seconds=0)
    later = utcnow() + timedelta(seconds=5)
    report = handle_poll_event({}, settings=settings, store=store, now=lambda: later)
    assert report["leases_reclaimed"] == 1
    assert org(store) == (0, 0)


# -- the proxy --------------------------------------------------------------------------------


@asynccontextmanager
async def instance(
    gateway: LocalGateway, settings: Settings, store: GatewayStore | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """One more proxy instance (its own memory, so its own leases) on the same table."""
    app = create_proxy_app(
        settings, store=store, upstream_transport=httpx.ASGITransport(app=gateway.simulator)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        yield client


async def test_after_the_first_response_requests_are_admitted_with_one_write(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    settings = gateway_settings(local_aws, org_lease_usd=Decimal("0.01"))
    _, plaintext = add_key(gateway, requests_per_minute=10)
    async with instance(gateway, settings) as client:
        first = await client.post("/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext))
        # the first admission was the two-item transaction (key window + organisation)
        assert "x-ratelimit-remaining-requests" not in first.headers
        [lease] = stored_leases(gateway.store)
        assert lease["granted_micros"] == 10_000
        second = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
    # a single-item admission: the key's window only, whose count comes back
    assert second.headers["x-ratelimit-remaining-requests"] == "8"
    costs = [r.json()["usage"] for r in (first, second)]
    assert all(costs)
    committed, spent = org(gateway.store)
    [lease] = stored_leases(gateway.store)
    assert 0 < lease["used_micros"] < spent
    assert committed == spent + 10_000 - lease["used_micros"]


async def test_instances_sharing_leases_never_pass_the_organisation_cap(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    # A long reply is asked for and cut at max_tokens: each request costs 91 micro-dollars
    # (12 prompt tokens, 300 completion tokens), reserved and settled alike. A lease is 1000,
    # the cap 2500: two instances lease, the third reserves each request directly.
    settings = gateway_settings(
        local_aws, org_monthly_cap_usd=Decimal("0.0025"), org_lease_usd=Decimal("0.001")
    )
    _, plaintext = add_key(gateway)
    body = CHAT | {
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Reply in 999 words."}],
    }
    statuses: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    async with (
        instance(gateway, settings) as a,
        instance(gateway, settings) as b,
        instance(gateway, settings) as c,
    ):
        for _ in range(14):
            for name, client in (("a", a), ("b", b), ("c", c)):
                response = await client.post(
                    "/openai/v1/chat/completions", json=body, headers=auth(plaintext)
                )
                statuses[name].append(response.status_code)
                committed, spent = org(gateway.store)
                assert spent <= committed <= 2500
                if response.status_code == 429:
                    error = response.json()["error"]
                    assert error["code"] == "spending_cap_reached"
                    assert "organisation" in error["message"]
                else:
                    assert response.status_code == 200
    assert len(stored_leases(gateway.store)) == 2
    # c: direct reservations until the cap had no room for one more: 2182 + 3 x 91 = 2455
    assert statuses["c"][:3] == [200, 200, 200]
    assert set(statuses["c"][3:]) == {429}
    # a and b: their first request direct, then 10 draws on their lease each (1000 // 91)
    assert statuses["a"].count(200) == statuses["b"].count(200) == 11
    committed, spent = org(gateway.store)
    assert committed + 91 > 2500  # not one more request fits anywhere
    assert spent == 25 * 91
    assert_books_balance(gateway.store)


async def test_an_instance_gives_back_its_lease_when_the_window_closes(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    settings = gateway_settings(local_aws, org_lease_usd=Decimal("0.01"), org_lease_seconds=0.5)
    _, plaintext = add_key(gateway)
    async with instance(gateway, settings) as client:
        await client.post("/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext))
        [first] = stored_leases(gateway.store)
        await asyncio.sleep(0.6)
        await client.post("/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext))
    # the closed lease went back after that response, and a new one was taken
    [second] = stored_leases(gateway.store)
    assert second["lease_id"] != first["lease_id"]
    assert second["used_micros"] == 0
    committed, spent = org(gateway.store)
    assert committed == spent + 10_000


async def test_leases_off_reserve_every_request_on_the_organisation(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    settings = gateway_settings(local_aws, org_lease_usd=0)
    _, plaintext = add_key(gateway)
    async with instance(gateway, settings) as client:
        for _ in range(2):
            response = await client.post(
                "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
            )
            assert response.status_code == 200
    assert stored_leases(gateway.store) == []
    committed, spent = org(gateway.store)
    assert committed == spent > 0


async def test_a_lease_dynamodb_cannot_take_is_asked_for_again_after_a_pause(
    gateway: LocalGateway, local_aws: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    settings = gateway_settings(local_aws, org_lease_usd=Decimal("0.01"))
    store = GatewayStore(settings.table_name)
    attempts: list[float] = []
    take = store.org_leases.take

    def throttled_once(request: LeaseRequest, **limits: Any) -> bool:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise StoreUnavailableError("DynamoDB transact_write_items failed: ThrottlingException")
        return take(request, **limits)

    store.org_leases.take = throttled_once  # type: ignore[method-assign]
    _, plaintext = add_key(gateway)
    async with instance(gateway, settings, store) as client:
        statuses = [
            (
                await client.post("/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext))
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 200]  # served directly meanwhile
        assert len(attempts) == 1  # not asked again on every response
        assert stored_leases(gateway.store) == []
        await asyncio.sleep(1.1)
        await client.post("/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext))
    assert len(attempts) == 2
    assert len(stored_leases(gateway.store)) == 1
    assert "organisation lease not taken" in caplog.text
    assert_books_balance(gateway.store)
