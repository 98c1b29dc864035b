"""The first vertical slice in-process: admin creates a key, the proxy forwards with it."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from groq_gateway.core.records import KeyStatus
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.app import create_app as create_proxy_app
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY
from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

CHAT = {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "Hello"}]}


def bearer(key: object) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def assert_openai_error(body: dict[str, object], code: str | None) -> None:
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) >= {"message", "type", "code"}
    assert error["code"] == code


async def test_created_key_is_returned_once_and_works_for_chat(gateway: LocalGateway) -> None:
    created = await gateway.create_key(
        name="chatbot-prod",
        allowed_models=["openai/gpt-oss-20b"],
        requests_per_minute=500,
        tokens_per_minute=100000,
    )
    assert str(created["key"]).startswith(f"ggw_{created['id']}_")
    assert created["prefix"]
    assert str(created["key"]).startswith(str(created["prefix"]))

    response = await gateway.client.post(
        "/openai/v1/chat/completions", json=CHAT, headers=bearer(created["key"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["usage"]["total_tokens"] > 0
    assert body["choices"][0]["message"]["content"]
    assert "x-groq-organization" not in response.headers
    # Rate-limit headers describe the key's own limits, never Groq's organisation limits.
    assert response.headers["x-ratelimit-limit-requests"] == "500"
    assert response.headers["x-ratelimit-limit-tokens"] == "100000"

    seen = (await gateway.upstream.get("/_simulator/requests")).json()
    assert seen[-1]["path"].endswith("/openai/v1/chat/completions")
    assert UPSTREAM_KEY in json.dumps(seen[-1])
    assert str(created["key"]) not in json.dumps(seen)


async def test_unknown_malformed_and_missing_keys_get_401(gateway: LocalGateway) -> None:
    created = await gateway.create_key()
    key = str(created["key"])
    wrong_secret = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for headers in (bearer("ggw_" + "a" * 16 + "_" + "b" * 43), bearer("nonsense"), {}):
        response = await gateway.client.post(
            "/openai/v1/chat/completions", json=CHAT, headers=headers
        )
        assert response.status_code == 401
        assert_openai_error(response.json(), "invalid_api_key")
        assert response.json()["error"]["type"] == "invalid_request_error"
    response = await gateway.client.post(
        "/openai/v1/chat/completions", json=CHAT, headers=bearer(wrong_secret)
    )
    assert response.status_code == 401


async def test_keys_never_cross_between_proxy_and_admin(gateway: LocalGateway) -> None:
    created = await gateway.create_key()
    as_admin = await gateway.client.post(
        "/openai/v1/api-keys", json={"name": "x"}, headers=bearer(created["key"])
    )
    assert as_admin.status_code == 401
    as_app = await gateway.client.post(
        "/openai/v1/chat/completions", json=CHAT, headers=bearer(ADMIN_KEY)
    )
    assert as_app.status_code == 401


async def test_model_outside_the_allowlist_is_refused_and_not_forwarded(
    gateway: LocalGateway,
) -> None:
    created = await gateway.create_key(allowed_models=["llama-3.1-8b-instant"])
    await gateway.upstream.delete("/_simulator/requests")
    response = await gateway.client.post(
        "/openai/v1/chat/completions", json=CHAT, headers=bearer(created["key"])
    )
    assert response.status_code == 403
    assert_openai_error(response.json(), "model_not_available")
    assert "openai/gpt-oss-20b" in response.json()["error"]["message"]
    assert (await gateway.upstream.get("/_simulator/requests")).json() == []


async def test_models_list_shows_only_allowed_models(gateway: LocalGateway) -> None:
    created = await gateway.create_key(allowed_models=["llama-3.1-8b-instant", "gone-model"])
    response = await gateway.client.get("/openai/v1/models", headers=bearer(created["key"]))
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["llama-3.1-8b-instant"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"messages": []}', "missing_model"),
        (b'{"model": 7, "messages": []}', "missing_model"),
    ],
)
async def test_bad_bodies_get_400(gateway: LocalGateway, body: bytes, code: str) -> None:
    created = await gateway.create_key()
    response = await gateway.client.post(
        "/openai/v1/chat/completions",
        content=body,
        headers=bearer(created["key"]) | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert_openai_error(response.json(), code)


async def test_unknown_paths_are_404_and_never_forwarded(gateway: LocalGateway) -> None:
    created = await gateway.create_key()
    await gateway.upstream.delete("/_simulator/requests")
    for method, path in (("POST", "/openai/v1/embeddings"), ("GET", "/openai/v1/chat/completions")):
        response = await gateway.client.request(method, path, headers=bearer(created["key"]))
        assert response.status_code == 404
        assert_openai_error(response.json(), "unknown_url")
    assert (await gateway.upstream.get("/_simulator/requests")).json() == []


async def test_revocation_takes_effect_within_the_cache_bound(gateway: LocalGateway) -> None:
    created = await gateway.create_key()
    headers = bearer(created["key"])
    ok = await gateway.client.post("/openai/v1/chat/completions", json=CHAT, headers=headers)
    assert ok.status_code == 200
    key = gateway.store.keys.get(str(created["id"]))
    assert key is not None
    gateway.store.keys.set_status(key, KeyStatus.REVOKED, key.updated_at)
    await anyio.sleep(gateway.settings.key_cache_seconds + 0.05)
    refused = await gateway.client.post("/openai/v1/chat/completions", json=CHAT, headers=headers)
    assert refused.status_code == 401


async def test_admin_validation_errors_name_the_field(gateway: LocalGateway) -> None:
    cases = [
        ({"name": "x", "requests_per_minute": "many"}, "requests_per_minute"),
        ({"name": "x", "colour": "blue"}, "colour"),
        ({"allowed_models": []}, "name"),
        ({"name": "x", "tokens_per_minute": 0}, "tokens_per_minute"),
    ]
    for body, field in cases:
        response = await gateway.client.post(
            "/openai/v1/api-keys", json=body, headers=bearer(ADMIN_KEY)
        )
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == field
    malformed = await gateway.client.post(
        "/openai/v1/api-keys",
        content=b"{oops",
        headers=bearer(ADMIN_KEY) | {"content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert "error" in malformed.json()


async def test_store_outage_fails_closed_with_503(
    gateway: LocalGateway, local_aws: dict[str, str]
) -> None:
    settings = Settings.model_validate(
        gateway.settings.model_dump() | {"table_name": "table-that-is-gone"}
    )
    app = create_proxy_app(settings, upstream_transport=httpx.ASGITransport(app=gateway.simulator))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        await gateway.upstream.delete("/_simulator/requests")
        response = await client.post(
            "/openai/v1/chat/completions",
            json=CHAT,
            headers=bearer("ggw_" + "a" * 16 + "_" + "b" * 43),
        )
    assert response.status_code == 503
    assert_openai_error(response.json(), "service_unavailable")
    assert (await gateway.upstream.get("/_simulator/requests")).json() == []
