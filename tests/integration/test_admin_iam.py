"""The admin API over IAM: every admin route under /iam/, signed with SigV4, behind the local
copy of API Gateway's AWS_IAM check; one way in per prefix; the IAM principal as the audited
actor; the allowlists of IAM principals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from groq_gateway.admin.app import create_app as create_admin_app
from groq_gateway_dev.cli.client import IamAuth
from groq_gateway_dev.devserver.iam import LOCAL_IAM
from groq_gateway_dev.devserver.local_aws import LOCAL_ACCOUNT, LOCAL_USER_ARN
from groq_gateway_dev.devserver.routing import ApiRouter, ASGIApp
from groq_gateway_dev.devserver.template import ApiRoute, TemplateModel
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway, gateway_settings
from tests.integration.test_admin_auth import ROUTES

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
SIGNED = IamAuth(Credentials(LOCAL_IAM.access_key_id, LOCAL_IAM.secret_access_key), "us-east-1")
WRONG_SECRET = IamAuth(Credentials(LOCAL_IAM.access_key_id, "not-the-secret"), "us-east-1")


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    *,
    auth: httpx.Auth | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.request(method, path, json=body, auth=auth, headers=headers)


async def test_every_iam_route_serves_a_signed_request(gateway: LocalGateway) -> None:
    for method, path, body in ROUTES:
        response = await call(gateway.client, method, f"/iam{path}", body, auth=SIGNED)
        assert response.status_code not in (401, 403), (method, path, response.text)
        if response.status_code == 404:
            assert response.json()["error"]["code"] == "not_found", (path, response.text)
    document = await gateway.client.get("/iam/openai/v1/admin/openapi.json", auth=SIGNED)
    assert document.json()["info"]["title"] == "Groq Gateway admin API"


async def test_iam_routes_refuse_unsigned_bearer_and_badly_signed_requests(
    gateway: LocalGateway,
) -> None:
    gateway_key = (await gateway.create_key(name="app"))["key"]
    for method, path, body in ROUTES:
        iam_path = f"/iam{path}"
        unsigned = await call(gateway.client, method, iam_path, body)
        assert unsigned.status_code == 404, (iam_path, unsigned.text)
        assert unsigned.json()["error"]["code"] == "unknown_url"
        for key in (ADMIN_KEY, gateway_key):
            bearer = await call(
                gateway.client, method, iam_path, body, headers={"authorization": f"Bearer {key}"}
            )
            assert bearer.status_code == 403, (iam_path, bearer.text)
            assert bearer.json()["error"]["code"] == "INCOMPLETE_SIGNATURE"
        wrong = await call(gateway.client, method, iam_path, body, auth=WRONG_SECRET)
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "INVALID_SIGNATURE")
    # Nothing was written: the one key is the one made above, and no admin key or team exists.
    assert len(gateway.store.keys.list_page().items) == 1
    assert list(gateway.store.teams.list_all()) == []


async def test_the_iam_principal_is_the_audited_actor(gateway: LocalGateway) -> None:
    created = await gateway.client.post(
        "/iam/openai/v1/api-keys", json={"name": "iam-made"}, auth=SIGNED
    )
    assert created.status_code == 201, created.text
    admin_key = await gateway.client.post(
        "/iam/openai/v1/admin-keys", json={"name": "ops", "role": "read_only"}, auth=SIGNED
    )
    assert admin_key.json()["created_by"] == LOCAL_USER_ARN
    log = await gateway.client.get(
        "/openai/v1/audit-log", params={"actor": LOCAL_USER_ARN}, headers=ADMIN
    )
    entries = log.json()["data"]
    assert [(e["action"], e["target_id"]) for e in entries] == [
        ("admin_key.created", admin_key.json()["id"]),
        ("api_key.created", created.json()["id"]),
    ]
    for entry in entries:
        assert (entry["actor_id"], entry["actor_name"]) == (LOCAL_USER_ARN, "user/local")
        assert entry["source_ip"] == "127.0.0.1"  # API Gateway's sourceIp, from the context
    # The same log read over IAM.
    over_iam = await gateway.client.get(
        "/iam/openai/v1/audit-log", params={"actor": LOCAL_USER_ARN}, auth=SIGNED
    )
    assert over_iam.json()["data"] == entries


# --- the admin app's own rule, without the router in front -----------------------------------


def request_context(
    resource_path: str = "/iam/openai/v1/teams", arn: str = LOCAL_USER_ARN
) -> dict[str, str]:
    context = {
        "accountId": LOCAL_ACCOUNT,
        "resourcePath": resource_path,
        "identity": {"accountId": LOCAL_ACCOUNT, "userArn": arn, "sourceIp": "203.0.113.7"},
    }
    return {"x-amzn-request-context": json.dumps(context)}


async def test_the_app_takes_an_iam_identity_only_under_iam_and_a_bearer_key_only_elsewhere(
    local_aws: dict[str, str],
) -> None:
    """What the app trusts: the context the Lambda Web Adapter sets, under /iam/ only."""
    app = create_admin_app(gateway_settings(local_aws))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin.test"
    ) as client:
        bearer_on_iam = await client.get("/iam/openai/v1/teams", headers=ADMIN)
        assert (bearer_on_iam.status_code, bearer_on_iam.json()["error"]["code"]) == (
            401,
            "missing_iam_identity",
        )
        context_on_bearer = await client.get("/openai/v1/teams", headers=request_context())
        assert (context_on_bearer.status_code, context_on_bearer.json()["error"]["code"]) == (
            401,
            "invalid_api_key",
        )
        from_a_bearer_route = await client.get(
            "/iam/openai/v1/teams", headers=request_context("/openai/v1/teams")
        )
        assert from_a_bearer_route.status_code == 401
        accepted = await client.get("/iam/openai/v1/teams", headers=request_context())
        assert accepted.status_code == 200, accepted.text


# --- who may do what ---------------------------------------------------------------------------


@pytest.fixture
async def admin_behind_router(
    local_aws: dict[str, str], template: TemplateModel, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """The admin app alone behind the template's routes, with the settings' allowlists from
    the test's parameter."""
    app = create_admin_app(gateway_settings(local_aws, **request.param))
    routes: list[tuple[ApiRoute, ASGIApp]] = [
        (route, app)
        for function in template.functions()
        if function.logical_id == "AdminFunction"
        for route in function.routes
    ]
    router = ApiRouter(routes, iam=LOCAL_IAM)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=router), base_url="http://gateway.test"
    ) as client:
        yield client


@pytest.mark.parametrize(
    "admin_behind_router",
    [{"admin_iam_read_only_arns": (f"arn:aws:iam::{LOCAL_ACCOUNT}:root",)}],
    indirect=True,
)
async def test_a_read_only_iam_principal_may_only_read(
    admin_behind_router: httpx.AsyncClient,
) -> None:
    client = admin_behind_router
    for method, path, body in ROUTES:
        response = await call(client, method, f"/iam{path}", body, auth=SIGNED)
        if method == "GET":
            assert response.status_code not in (401, 403), (path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "insufficient_permissions"


@pytest.mark.parametrize(
    "admin_behind_router",
    [{"admin_iam_full_arns": (f"arn:aws:iam::{LOCAL_ACCOUNT}:user/someone-else",)}],
    indirect=True,
)
async def test_a_principal_outside_the_allowlists_is_refused(
    admin_behind_router: httpx.AsyncClient,
) -> None:
    response = await admin_behind_router.get("/iam/openai/v1/teams", auth=SIGNED)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "iam_principal_not_allowed"
    assert LOCAL_USER_ARN in error["message"]
    # The bearer-key routes are untouched by the IAM allowlists.
    assert (await admin_behind_router.get("/openai/v1/teams", headers=ADMIN)).status_code == 200
