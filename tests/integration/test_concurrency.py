"""Limits hold under concurrency: every admission is one atomic DynamoDB write, so no
instance can see a stale count. Requests here run concurrently against moto's server."""

from __future__ import annotations

from decimal import Decimal

import anyio
import httpx
import pytest

from groq_gateway.limits import Scope, month_of
from groq_gateway.models import KeyStatus, utcnow
from groq_gateway.proxy.app import create_app as create_proxy_app
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_proxy_limits_and_metering import CHAT, add_key, auth

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


async def test_concurrent_requests_never_exceed_requests_per_minute(
    gateway: LocalGateway,
) -> None:
    _, plaintext = add_key(gateway, requests_per_minute=20)
    statuses = await burst(gateway.client, plaintext, 80)
    assert statuses.count(200) == 20
    assert statuses.count(429) == 60


async def test_concurrent_requests_never_overspend_a_cap(gateway: LocalGateway) -> None:
    cap = Decimal("0.0001")  # 100 micro-dollars: a few requests' worst case
    key, plaintext = add_key(gateway, monthly_budget_usd=cap)
    statuses = await burst(gateway.client, plaintext, 40)
    admitted = statuses.count(200)
    assert 1 <= admitted < 40
    assert set(statuses) <= {200, 429}
    spend = gateway.store.counters.month_spend(Scope.KEY, key.key_id, month_of(utcnow()))
    assert spend.spent_micros <= 100
    assert spend.committed_micros == spend.spent_micros


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
