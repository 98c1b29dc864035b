"""Gateway key rotation against moto's server: the admin API's rotate, the proxy's view of
old and new secrets, and the scheduled run driven by an injected clock (no sleeping 24 h)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import anyio
import boto3
import httpx
import pytest

from groq_gateway.core.periods import utcnow
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.rotation.run import handle_rotation_event
from groq_gateway.secret_rotation import KeyRotator
from groq_gateway_dev.simulator import SimulatorConfig
from groq_gateway_dev.simulator import create_app as create_simulator
from tests.conftest import ADMIN_KEY, STAGED_UPSTREAM_KEY
from tests.integration.conftest import LocalGateway
from tests.integration.test_proxy_limits_and_metering import chat

pytestmark = pytest.mark.anyio
HOUR = timedelta(hours=1)
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


async def rotate(gateway: LocalGateway, key_id: str) -> dict[str, Any]:
    response = await gateway.client.post(f"/openai/v1/api-keys/{key_id}/rotate", headers=ADMIN)
    assert response.status_code == 200, response.text
    rotated: dict[str, Any] = response.json()
    return rotated


def rotator(gateway: LocalGateway, hours_later: float, **deliver: Any) -> KeyRotator:
    moment = utcnow() + timedelta(hours=hours_later)
    return KeyRotator(gateway.store, gateway.settings, now=lambda: moment, **deliver)


async def test_manual_rotation_keeps_the_key_and_both_secrets_work_in_grace(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(name="app", requests_per_minute=100)
    rotated = await rotate(gateway, str(created["id"]))
    assert rotated["id"] == created["id"]
    assert rotated["key"] != created["key"]
    assert rotated["requests_per_minute"] == 100
    [previous] = rotated["previous_secrets"]
    assert str(created["key"]).startswith(previous["prefix"])
    for key in (created["key"], rotated["key"]):
        assert (await chat(gateway, str(key))).status_code == 200
    audit = await gateway.client.get(
        "/openai/v1/audit-log", params={"action": "api_key.rotated"}, headers=ADMIN
    )
    [entry] = audit.json()["data"]
    assert entry["target_id"] == created["id"]
    assert str(rotated["key"]) not in audit.text


async def test_old_secret_traffic_is_tracked_and_blocks_retirement_until_quiet(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(
        name="app", grace_period_hours=1, quiet_period_hours=2, retire_deadline_hours=48
    )
    key_id = str(created["id"])
    await rotate(gateway, key_id)
    assert (await chat(gateway, str(created["key"]))).status_code == 200
    stored = gateway.store.keys.get(key_id)
    assert stored is not None
    [old] = stored.previous_secrets
    use = gateway.store.secret_use.get(key_id, old.secret_hash)
    assert use is not None
    assert use.uses == 1
    assert use.last_source_ip == "127.0.0.1"
    # Grace is over in 1.5 h, but the secret was used just now: the quiet period holds it.
    assert rotator(gateway, 1.5).run().retired == []
    # Three hours later it has been quiet for more than two: retired, and refused.
    assert rotator(gateway, 3).run().retired == [key_id]
    assert rotator(gateway, 3).run().retired == []  # a repeated run changes nothing
    stored = gateway.store.keys.get(key_id)
    assert stored is not None
    assert stored.previous_secrets == []
    gateway_cache = gateway.settings.key_cache_seconds
    await _sleep(gateway_cache)
    assert (await chat(gateway, str(created["key"]))).status_code == 401


async def test_a_secret_still_used_at_its_deadline_is_warned_about_then_retired(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(
        name="billing-app",
        grace_period_hours=1,
        quiet_period_hours=100,
        retire_deadline_hours=10,
        deadline_warning_hours=4,
    )
    key_id = str(created["id"])
    await rotate(gateway, key_id)
    await chat(gateway, str(created["key"]))
    assert rotator(gateway, 5).run().warned == []
    assert rotator(gateway, 7).run().warned == [key_id]
    assert rotator(gateway, 8).run().warned == []  # warned once
    assert rotator(gateway, 11).run().retired == [key_id]
    events = [json.loads(e.event_json) for e in gateway.store.notices.pending()]
    assert [e["kind"] for e in events] == ["rotation_deadline", "secret_retired"]
    assert all(e["key_id"] == key_id and e["last_source_ip"] == "127.0.0.1" for e in events)


async def test_scheduled_rotation_delivers_to_secrets_manager_once(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(
        name="batch", rotation_period_days=30, deliver_to_secret=True
    )
    key_id = str(created["id"])
    settings = gateway.settings.model_copy(update={"key_secret_prefix": "test/keys/"})
    later = utcnow() + timedelta(days=31)
    event = {"job": "rotate-due-keys"}
    first = handle_rotation_event(event, settings=settings, now=lambda: later)
    replay = handle_rotation_event(event, settings=settings, now=lambda: later)
    assert (first["rotated"], replay["rotated"]) == (1, 0)
    delivered = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=f"test/keys/{key_id}")[
            "SecretString"
        ]
    )
    assert delivered["key_id"] == key_id
    assert (await chat(gateway, delivered["api_key"])).status_code == 200
    assert (await chat(gateway, str(created["key"]))).status_code == 200  # still in grace
    stored = gateway.store.keys.get(key_id)
    assert stored is not None
    assert len(stored.secrets) == 2


async def test_a_failed_delivery_keeps_the_old_secret_and_is_retried(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(name="batch", rotation_period_days=1, deliver_to_secret=True)
    key_id = str(created["id"])

    def refuse(name: str, value: dict[str, Any]) -> None:
        raise RuntimeError("Secrets Manager is unavailable")

    failing = rotator(gateway, 25, deliver=refuse).run()
    assert failing.failed == [key_id]
    assert (await chat(gateway, str(created["key"]))).status_code == 200
    delivered: list[dict[str, Any]] = []
    retried = rotator(gateway, 26, deliver=lambda name, value: delivered.append(value)).run()
    assert retried.rotated == [key_id]
    assert (await chat(gateway, delivered[0]["api_key"])).status_code == 200
    stored = gateway.store.keys.get(key_id)
    assert stored is not None
    assert len(stored.secrets) == 2  # the undelivered secret is gone


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds + 0.05)


async def test_an_upstream_key_rotation_costs_no_client_request(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    """Groq accepts only the promoted key; the proxy still has the old one cached, gets a 401
    from Groq, reads the secret again at once and retries: the client sees a 200."""
    created = await gateway.create_key(name="app")
    only_new = create_simulator(SimulatorConfig(api_keys=frozenset({STAGED_UPSTREAM_KEY})))
    proxy = create_proxy_app(gateway.settings, upstream_transport=httpx.ASGITransport(app=only_new))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=proxy), base_url="http://proxy.test"
    ) as client:
        body = {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"authorization": f"Bearer {created['key']}"}
        before = await client.post("/openai/v1/chat/completions", json=body, headers=headers)
        assert before.status_code == 401  # Groq refuses the old key, even after a fresh read
        boto3.client("secretsmanager").put_secret_value(
            SecretId=local_aws["UpstreamKeySecret"],
            SecretString=json.dumps({"active": STAGED_UPSTREAM_KEY, "staged": []}),
        )
        after = await client.post("/openai/v1/chat/completions", json=body, headers=headers)
    assert after.status_code == 200
    seen = (await only_new_requests(only_new))[-1]
    assert seen["key"] == STAGED_UPSTREAM_KEY


async def only_new_requests(simulator: Any) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulator), base_url="http://upstream.test"
    ) as client:
        requests: list[dict[str, Any]] = (await client.get("/_simulator/requests")).json()
        return requests
