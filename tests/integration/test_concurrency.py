"""Limits hold under concurrency: every admission is one atomic DynamoDB write, so no
instance can see a stale count. Requests here run concurrently against moto's server."""

from __future__ import annotations

from decimal import Decimal

import anyio
import httpx
import pytest

from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.records import KeyStatus
from groq_gateway.proxy.app import create_app as create_proxy_app
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_proxy_limits_and_metering import CHAT, add_key, add_team, auth
from tests.minute_window import in_one_window
from tests.reliability_report import RELIABILITY

pytestmark = pytest.mark.anyio


async def burst(client: httpx.AsyncClient, plaintext: str, count: int) -> list[int]:
    statuses: list[int] = []

    async def one() -> None:
        response = await client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=auth(plaintext)
        )
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one)
    return statuses


async def test_200_concurrent_requests_on_50_per_minute_admit_exactly_50(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway, requests_per_minute=50)
    await in_one_window()
    statuses = await burst(gateway.client, plaintext, 200)
    RELIABILITY.count_requests("200 concurrent, key at 50 requests/minute", statuses)
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150


async def test_a_spending_cap_holds_under_100_concurrent_requests(gateway: LocalGateway) -> None:
    cap_micros = 200  # $0.0002: a handful of requests' worst case
    key, plaintext = add_key(gateway, monthly_budget_usd=Decimal(cap_micros) / 1_000_000)
    statuses = await burst(gateway.client, plaintext, 100)
    RELIABILITY.count_requests("100 concurrent against a $0.0002 key budget", statuses)
    admitted = statuses.count(200)
    assert 1 <= admitted < 100
    assert set(statuses) <= {200, 429}
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.spent_micros <= cap_micros
    assert spend.committed_micros == spend.spent_micros  # every reservation settled


async def test_two_keys_of_a_team_share_its_limit_under_concurrency(
    gateway: LocalGateway,
) -> None:
    add_team(gateway, team_id="shared", requests_per_minute=30)
    _, first = add_key(gateway, team_id="shared", requests_per_minute=100)
    _, second = add_key(gateway, team_id="shared", requests_per_minute=100)
    both: list[int] = []
    await in_one_window()

    async def run(plaintext: str) -> None:
        both.extend(await burst(gateway.client, plaintext, 40))

    async with anyio.create_task_group() as group:
        group.start_soon(run, first)
        group.start_soon(run, second)
    RELIABILITY.count_requests("2 keys x 40 concurrent, team at 30 requests/minute", both)
    assert both.count(200) == 30
    assert both.count(429) == 50


async def test_revocation_reaches_every_instance_within_the_cache_bound(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    settings = gateway_settings(local_aws, key_cache_seconds=1.0)
    instances = [
        create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=gateway.simulator))
        for _ in range(3)
    ]
    key, plaintext = add_key(gateway)
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy.test")
        for app in instances
    ]
    try:
        for client in clients:  # every instance has the key cached as active
            assert (await burst(client, plaintext, 1)) == [200]
        gateway.store.keys.set_status(key, KeyStatus.REVOKED, utcnow())
        await anyio.sleep(settings.key_cache_seconds + 0.05)
        for client in clients:
            assert (await burst(client, plaintext, 1)) == [401]
    finally:
        for client in clients:
            await client.aclose()
