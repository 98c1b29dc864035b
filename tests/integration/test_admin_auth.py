"""Who may call the admin API: the bootstrap key, admin keys by role, never gateway keys."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}

# One request per admin route and method (paths of records that need not exist).
ROUTES = [
    ("GET", "/openai/v1/api-keys", None),
    ("POST", "/openai/v1/api-keys", {"name": "x"}),
    ("GET", "/openai/v1/api-keys/0123456789abcdef", None),
    ("PATCH", "/openai/v1/api-keys/0123456789abcdef", {"description": "x"}),
    ("DELETE", "/openai/v1/api-keys/0123456789abcdef", None),
    ("GET", "/openai/v1/teams", None),
    ("POST", "/openai/v1/teams", {"id": "x"}),
    ("GET", "/openai/v1/teams/x", None),
    ("PATCH", "/openai/v1/teams/x", {"description": "x"}),
    ("DELETE", "/openai/v1/teams/x", None),
    ("GET", "/openai/v1/admin-keys", None),
    ("POST", "/openai/v1/admin-keys", {"name": "x", "role": "full"}),
    ("GET", "/openai/v1/admin-keys/0123456789abcdef", None),
    ("DELETE", "/openai/v1/admin-keys/0123456789abcdef", None),
    ("GET", "/openai/v1/usage", None),
    ("GET", "/openai/v1/usage/history?start=2026-11-01", None),
    ("GET", "/openai/v1/audit-log", None),
    ("GET", "/openai/v1/prices", None),
    ("PUT", "/openai/v1/prices/openai/gpt-oss-20b", {"per_audio_hour": "1"}),
    ("DELETE", "/openai/v1/prices/openai/gpt-oss-20b", None),
    ("GET", "/openai/v1/admin/files", None),
    ("GET", "/openai/v1/admin/batches", None),
    ("GET", "/openai/v1/admin/me", None),
    ("GET", "/openai/v1/admin/iam-principals", None),
    ("PUT", "/openai/v1/admin/iam-principals/arn:aws:iam::123456789012:role/X", {"role": "full"}),
    ("DELETE", "/openai/v1/admin/iam-principals/arn:aws:iam::123456789012:role/X", None),
]


def bearer(key: object) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def call(
    gateway: LocalGateway, method: str, path: str, body: Any, headers: dict[str, str]
) -> Any:
    return await gateway.client.request(method, path, json=body, headers=headers)


async def create_admin_key(gateway: LocalGateway, role: str, name: str = "ops") -> dict[str, Any]:
    response = await gateway.client.post(
        "/openai/v1/admin-keys", json={"name": name, "role": role}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_refuses_missing_wrong_and_gateway_keys(
    gateway: LocalGateway, method: str, path: str, body: Any
) -> None:
    gateway_key = (await gateway.create_key(name="app"))["key"]
    forged_admin = "ggwadm_" + "a" * 16 + "_" + "b" * 43
    for headers in ({}, bearer("wrong"), bearer(gateway_key), bearer(forged_admin)):
        response = await call(gateway, method, path, body, headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["code"] == "invalid_api_key"
    allowed = await call(gateway, method, path, body, ADMIN)
    assert allowed.status_code not in (401, 403)


async def test_a_read_only_admin_key_may_only_read(gateway: LocalGateway) -> None:
    reader = await create_admin_key(gateway, "read_only", "dashboards")
    assert str(reader["key"]).startswith(f"ggwadm_{reader['id']}_")
    assert reader["role"] == "read_only"
    assert reader["created_by"] == "bootstrap"
    for method, path, body in ROUTES:
        response = await call(gateway, method, path, body, bearer(reader["key"]))
        if method == "GET":
            assert response.status_code not in (401, 403), (path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "insufficient_permissions"
    assert gateway.store.keys.list_page().items == []
    assert list(gateway.store.teams.list_all()) == []


async def test_a_full_admin_key_may_change_and_is_the_audited_actor(gateway: LocalGateway) -> None:
    operator = await create_admin_key(gateway, "full", "alice")
    created = await gateway.client.post(
        "/openai/v1/api-keys", json={"name": "k"}, headers=bearer(operator["key"])
    )
    assert created.status_code == 201
    second = await gateway.client.post(
        "/openai/v1/admin-keys",
        json={"name": "bob", "role": "read_only"},
        headers=bearer(operator["key"]),
    )
    assert second.json()["created_by"] == operator["id"]
    log = await gateway.client.get(
        "/openai/v1/audit-log", params={"actor": operator["id"]}, headers=ADMIN
    )
    entries = log.json()["data"]
    assert [(e["action"], e["actor_name"]) for e in entries] == [
        ("admin_key.created", "alice"),
        ("api_key.created", "alice"),
    ]


async def test_admin_keys_list_show_no_secret_and_revocation_is_immediate(
    gateway: LocalGateway,
) -> None:
    operator = await create_admin_key(gateway, "full", "alice")
    stored = gateway.store.admin_keys.get(operator["id"])
    assert stored is not None
    listed = await gateway.client.get("/openai/v1/admin-keys", headers=ADMIN)
    shown = await gateway.client.get(f"/openai/v1/admin-keys/{operator['id']}", headers=ADMIN)
    assert [k["id"] for k in listed.json()["data"]] == [operator["id"]]
    assert shown.json() == {k: v for k, v in operator.items() if k != "key"}
    for text in (listed.text, shown.text):
        assert operator["key"] not in text
        assert stored.secret_hash not in text

    revoked = await gateway.client.delete(f"/openai/v1/admin-keys/{operator['id']}", headers=ADMIN)
    assert revoked.json()["status"] == "revoked"
    refused = await gateway.client.get("/openai/v1/api-keys", headers=bearer(operator["key"]))
    assert refused.status_code == 401
    again = await gateway.client.delete(f"/openai/v1/admin-keys/{operator['id']}", headers=ADMIN)
    assert again.status_code == 200
    active = await gateway.client.get(
        "/openai/v1/admin-keys", params={"status": "active"}, headers=ADMIN
    )
    assert active.json()["data"] == []
    missing = await gateway.client.delete("/openai/v1/admin-keys/nope", headers=ADMIN)
    assert missing.status_code == 404


async def test_an_admin_key_with_a_wrong_secret_is_refused(gateway: LocalGateway) -> None:
    operator = await create_admin_key(gateway, "full")
    key = str(operator["key"])
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = await gateway.client.get("/openai/v1/teams", headers=bearer(tampered))
    assert response.status_code == 401
    as_gateway_key = await gateway.client.post(
        "/openai/v1/chat/completions",
        json={"model": "openai/gpt-oss-20b", "messages": []},
        headers=bearer(key),
    )
    assert as_gateway_key.status_code == 401
