"""Gateway keys through the admin API, in-process behind the template's routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from groq_gateway.core.records import KeyStatus
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
CHAT = {"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "Hi"}]}


def bearer(key: object) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def create_team(gateway: LocalGateway, **body: Any) -> dict[str, Any]:
    response = await gateway.client.post("/openai/v1/teams", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    team: dict[str, Any] = response.json()
    return team


async def patch_key(gateway: LocalGateway, key_id: object, **body: Any) -> Any:
    return await gateway.client.patch(f"/openai/v1/api-keys/{key_id}", json=body, headers=ADMIN)


async def test_create_with_every_field_then_read_shows_no_secret(gateway: LocalGateway) -> None:
    await create_team(gateway, id="chatbot", allowed_models=["llama-3.1-8b-instant", "x"])
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = await gateway.create_key(
        name="chatbot-prod",
        team="chatbot",
        description="the support bot",
        allowed_models=["llama-3.1-8b-instant"],
        requests_per_minute=500,
        tokens_per_minute=100000,
        monthly_budget_usd="12.50",
        expires_at=expires.isoformat(),
        allowed_endpoints=["chat", "models"],
        allowed_cidrs=["10.1.2.3/24", "2001:db8::/32", "203.0.113.9"],
        rotation_period_days=30,
    )
    assert str(created["key"]).startswith(f"ggw_{created['id']}_")
    assert created["team"] == "chatbot"
    assert created["monthly_budget_usd"] == 12.5
    assert created["allowed_cidrs"] == ["10.1.2.0/24", "2001:db8::/32", "203.0.113.9/32"]
    assert created["allowed_endpoints"] == ["chat", "models"]
    assert created["rotation_period_days"] == 30
    assert datetime.fromisoformat(str(created["expires_at"])) == expires

    read = await gateway.client.get(f"/openai/v1/api-keys/{created['id']}", headers=ADMIN)
    assert read.status_code == 200
    shown = read.json()
    assert shown == {k: v for k, v in created.items() if k != "key"}
    stored = gateway.store.keys.get(str(created["id"]))
    assert stored is not None
    listed = await gateway.client.get("/openai/v1/api-keys", headers=ADMIN)
    for text in (read.text, listed.text):
        assert str(created["key"]) not in text
        assert stored.secrets[0].secret_hash not in text
        assert "hash" not in text


async def test_the_seeds_curl_body_works_without_a_json_content_type(
    gateway: LocalGateway,
) -> None:
    body = json.dumps(
        {
            "name": "batch-processor",
            "allowed_models": ["llama-3.1-8b-instant"],
            "requests_per_minute": 60,
            "tokens_per_minute": 500000,
        }
    )
    response = await gateway.client.post(
        "/openai/v1/api-keys",
        content=body,
        headers=ADMIN | {"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["tokens_per_minute"] == 500000


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "requests_per_minute": 0}, "requests_per_minute"),
        ({"name": "x", "allowed_cidrs": ["10.0.0.0/33"]}, "allowed_cidrs.0"),
        ({"name": "x", "allowed_endpoints": ["embeddings"]}, "allowed_endpoints.0"),
        ({"name": "x", "team": "Not A Slug"}, "team"),
        ({"name": "x", "monthly_budget_usd": -1}, "monthly_budget_usd"),
        ({"name": "x", "expires_at": "next tuesday"}, "expires_at"),
        ({"allowed_models": []}, "name"),
        ({"name": ""}, "name"),
    ],
)
async def test_invalid_bodies_get_400_naming_the_field(
    gateway: LocalGateway, body: dict[str, Any], param: str
) -> None:
    response = await gateway.client.post("/openai/v1/api-keys", json=body, headers=ADMIN)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["code"] == "invalid_value"
    assert param in error["message"]
    assert gateway.store.keys.list_page().items == []


async def test_not_json_is_400_and_changes_nothing(gateway: LocalGateway) -> None:
    response = await gateway.client.post("/openai/v1/api-keys", content=b"{name: x", headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_a_key_can_never_exceed_its_team(gateway: LocalGateway) -> None:
    await create_team(
        gateway,
        id="analytics",
        allowed_models=["llama-3.1-8b-instant"],
        requests_per_minute=100,
        tokens_per_minute=1000,
        monthly_budget_usd=10,
    )
    refusals = [
        ({"allowed_models": ["llama-3.1-8b-instant", "llama-3.3-70b-versatile"]}, "allowed_models"),
        ({"requests_per_minute": 101}, "requests_per_minute"),
        ({"tokens_per_minute": 1001}, "tokens_per_minute"),
        ({"monthly_budget_usd": "10.01"}, "monthly_budget_usd"),
    ]
    for extra, param in refusals:
        response = await gateway.client.post(
            "/openai/v1/api-keys",
            json={"name": "too-much", "team": "analytics", **extra},
            headers=ADMIN,
        )
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["error"] == {
            "message": response.json()["error"]["message"],
            "type": "invalid_request_error",
            "param": param,
            "code": "exceeds_team",
        }
    unknown = await gateway.client.post(
        "/openai/v1/api-keys", json={"name": "k", "team": "nobody"}, headers=ADMIN
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_team"
    assert gateway.store.keys.list_page().items == []

    within = await gateway.create_key(
        name="ok",
        team="analytics",
        allowed_models=["llama-3.1-8b-instant"],
        requests_per_minute=100,
        monthly_budget_usd=10,
    )
    raised = await patch_key(gateway, within["id"], requests_per_minute=500)
    assert raised.status_code == 422
    assert raised.json()["error"]["param"] == "requests_per_minute"
    await create_team(gateway, id="sandbox", allowed_models=["openai/gpt-oss-20b"])
    refused_move = await patch_key(gateway, within["id"], team="sandbox")
    assert refused_move.status_code == 422
    assert refused_move.json()["error"]["param"] == "allowed_models"
    moved = await patch_key(
        gateway, within["id"], team="sandbox", allowed_models=["openai/gpt-oss-20b"]
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["team"] == "sandbox"


async def test_list_pages_newest_first_and_filters(gateway: LocalGateway) -> None:
    await create_team(gateway, id="research")
    made = [await gateway.create_key(name=f"key-{n}") for n in range(3)]
    made += [await gateway.create_key(name=f"research-{n}", team="research") for n in range(2)]
    await patch_key(gateway, made[1]["id"], status="paused")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"after": cursor} if cursor else {})
        response = await gateway.client.get("/openai/v1/api-keys", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["object"] == "list"
        assert len(page["data"]) <= 2
        seen += [key["id"] for key in page["data"]]
        pages += 1
        assert page["has_more"] == (page["next_cursor"] is not None)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == [key["id"] for key in reversed(made)]

    by_team = await gateway.client.get(
        "/openai/v1/api-keys", params={"team": "research"}, headers=ADMIN
    )
    assert {k["name"] for k in by_team.json()["data"]} == {"research-0", "research-1"}
    paused = await gateway.client.get(
        "/openai/v1/api-keys", params={"status": "paused", "limit": 1}, headers=ADMIN
    )
    assert [k["id"] for k in paused.json()["data"]] == [made[1]["id"]]
    assert paused.json()["has_more"] is False


@pytest.mark.parametrize("cursor", ["garbage", "eyJhZnRlciI6ICJLRVkjeCJ9", "e30"])
async def test_a_forged_cursor_is_400(gateway: LocalGateway, cursor: str) -> None:
    response = await gateway.client.get(
        "/openai/v1/api-keys", params={"after": cursor}, headers=ADMIN
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


async def test_patch_changes_only_the_named_fields_and_null_clears(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(
        name="k", requests_per_minute=10, tokens_per_minute=20, description="old"
    )
    response = await patch_key(
        gateway, created["id"], requests_per_minute=None, description="new", allowed_models=[]
    )
    assert response.status_code == 200, response.text
    key = response.json()
    assert key["requests_per_minute"] is None
    assert key["tokens_per_minute"] == 20
    assert key["description"] == "new"
    assert key["allowed_models"] == []
    assert key["updated_at"] > created["updated_at"]
    stored = gateway.store.keys.get(str(created["id"]))
    assert stored is not None
    assert stored.version == 2
    assert stored.requests_per_minute is None

    for body, param in (({"name": None}, "name"), ({"status": "revoked"}, "status")):
        refused = await patch_key(gateway, created["id"], **body)
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == param
    unknown = await patch_key(gateway, "0" * 16, description="x")
    assert unknown.status_code == 404


async def test_a_patch_that_changes_nothing_writes_nothing(gateway: LocalGateway) -> None:
    created = await gateway.create_key(name="k", requests_per_minute=10)
    response = await patch_key(gateway, created["id"], requests_per_minute=10, name="k")
    assert response.status_code == 200
    stored = gateway.store.keys.get(str(created["id"]))
    assert stored is not None
    assert stored.version == 1
    log = await gateway.client.get("/openai/v1/audit-log", headers=ADMIN)
    assert [e["action"] for e in log.json()["data"]] == ["api_key.created"]


async def test_pause_and_resume_take_effect_at_the_proxy(gateway: LocalGateway) -> None:
    created = await gateway.create_key(name="k")
    headers = bearer(created["key"])
    assert (
        await gateway.client.post("/openai/v1/chat/completions", json=CHAT, headers=headers)
    ).status_code == 200

    paused = await patch_key(gateway, created["id"], status="paused", paused_reason="incident 42")
    assert paused.json()["status"] == "paused"
    assert paused.json()["paused_reason"] == "incident 42"
    await anyio.sleep(gateway.settings.key_cache_seconds + 0.05)
    refused = await gateway.client.post("/openai/v1/chat/completions", json=CHAT, headers=headers)
    assert refused.status_code == 401

    resumed = await patch_key(gateway, created["id"], status="active")
    assert resumed.json()["status"] == "active"
    assert resumed.json()["paused_reason"] is None
    await anyio.sleep(gateway.settings.key_cache_seconds + 0.05)
    ok = await gateway.client.post("/openai/v1/chat/completions", json=CHAT, headers=headers)
    assert ok.status_code == 200

    reason_alone = await patch_key(gateway, created["id"], paused_reason="why")
    assert reason_alone.status_code == 422
    assert reason_alone.json()["error"]["param"] == "paused_reason"


async def test_revoke_is_final_idempotent_and_404_for_unknown(gateway: LocalGateway) -> None:
    created = await gateway.create_key(name="old")
    first = await gateway.client.delete(f"/openai/v1/api-keys/{created['id']}", headers=ADMIN)
    assert first.status_code == 200
    assert first.json()["status"] == "revoked"
    again = await gateway.client.delete(f"/openai/v1/api-keys/{created['id']}", headers=ADMIN)
    assert again.status_code == 200
    assert again.json() == first.json()

    refused = await gateway.client.post(
        "/openai/v1/chat/completions", json=CHAT, headers=bearer(created["key"])
    )
    assert refused.status_code == 401
    resumed = await patch_key(gateway, created["id"], status="active")
    assert resumed.status_code == 409
    assert resumed.json()["error"]["code"] == "key_revoked"

    for unknown in ("OLD_KEY_ID", "0" * 16):
        missing = await gateway.client.delete(f"/openai/v1/api-keys/{unknown}", headers=ADMIN)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
    log = await gateway.client.get(
        "/openai/v1/audit-log", params={"action": "api_key.revoked"}, headers=ADMIN
    )
    assert len(log.json()["data"]) == 1


async def test_an_expired_key_resumes_only_with_a_later_expiry(gateway: LocalGateway) -> None:
    created = await gateway.create_key(name="k")
    past = datetime.now(UTC) - timedelta(days=1)
    key = gateway.store.keys.get(str(created["id"]))
    assert key is not None
    expired = key.model_copy(
        update={"status": KeyStatus.EXPIRED, "expires_at": past, "version": key.version + 1}
    )
    # What the rotation function leaves behind when a key's expiry passes.
    gateway.store.table.call(
        "transact_write_items", TransactItems=[gateway.store.keys.update(key, expired)]
    )

    stays_expired = await patch_key(gateway, created["id"], status="active")
    assert stays_expired.status_code == 422
    assert stays_expired.json()["error"]["param"] == "status"
    in_past = await patch_key(gateway, created["id"], expires_at=past.isoformat())
    assert in_past.status_code == 200  # unchanged: the same expiry is no change at all
    earlier = await patch_key(
        gateway, created["id"], expires_at=(past - timedelta(days=1)).isoformat()
    )
    assert earlier.status_code == 422
    assert earlier.json()["error"]["param"] == "expires_at"
    created_expired = await gateway.client.post(
        "/openai/v1/api-keys", json={"name": "late", "expires_at": past.isoformat()}, headers=ADMIN
    )
    assert created_expired.status_code == 422

    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    revived = await patch_key(gateway, created["id"], status="active", expires_at=later)
    assert revived.status_code == 200, revived.text
    assert revived.json()["status"] == "active"
    chat = await gateway.client.post(
        "/openai/v1/chat/completions", json=CHAT, headers=bearer(created["key"])
    )
    assert chat.status_code == 200
