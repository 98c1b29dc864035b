from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from groq_gateway_dev.cli.client import IamAuth
from groq_gateway_dev.devserver.iam import LOCAL_IAM
from groq_gateway_dev.devserver.local_aws import LOCAL_USER_ARN
from groq_gateway_dev.devserver.routing import ApiRouter
from groq_gateway_dev.devserver.template import ApiRoute, TemplateModel, find_template


def named_app(name: str) -> Starlette:
    async def answer(request: Request) -> PlainTextResponse:
        return PlainTextResponse(name)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "DELETE"])])


PROXY, ADMIN = named_app("proxy"), named_app("admin")
ROUTER = ApiRouter(
    [
        (ApiRoute("ANY", "/openai/v1/{proxy+}"), PROXY),
        (ApiRoute("ANY", "/openai/v1/api-keys"), ADMIN),
        (ApiRoute("ANY", "/openai/v1/api-keys/{proxy+}"), ADMIN),
        (ApiRoute("GET", "/openai/v1/usage"), ADMIN),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/openai/v1/chat/completions", "proxy"),
        ("GET", "/openai/v1/models/openai/gpt-oss-20b", "proxy"),
        ("POST", "/openai/v1/api-keys", "admin"),
        ("DELETE", "/openai/v1/api-keys/abc", "admin"),
        ("GET", "/openai/v1/usage", "admin"),
        # POST /usage matches no admin route, so the greedy proxy route takes it, as in AWS.
        ("POST", "/openai/v1/usage", "proxy"),
    ],
)
def test_most_specific_route_wins(method: str, path: str, expected: str) -> None:
    app = ROUTER.match(method, path)
    assert app is (PROXY if expected == "proxy" else ADMIN)


@pytest.mark.anyio
async def test_unrouted_path_is_an_openai_format_404_and_healthz_answers() -> None:
    transport = httpx.ASGITransport(app=ROUTER)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        missing = await client.get("/v2/anything")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "unknown_url"
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        routed = await client.post("/openai/v1/api-keys")
        assert routed.text == "admin"


@pytest.mark.anyio
async def test_a_trailing_slash_is_routed_as_without_it_and_reaches_the_app_as_sent() -> None:
    # API Gateway (REST) ignores a trailing slash when it matches a resource: /console/ is
    # the /console route's, and the app sees the path as the client sent it.
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.url.path)

    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET"])])
    router = ApiRouter([(ApiRoute("GET", "/console"), app), (ApiRoute("GET", "/a/{proxy+}"), app)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=router), base_url="http://local"
    ) as client:
        assert (await client.get("/console/")).text == "/console/"
        assert (await client.get("/console")).text == "/console"
        assert (await client.get("/a/b/")).text == "/a/b/"
        assert (await client.get("/a/")).status_code == 404  # {proxy+} needs a segment
        assert (await client.get("/console//")).status_code == 404


@pytest.mark.anyio
async def test_a_client_cannot_forge_api_gateways_request_context() -> None:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.headers.get("x-amzn-request-context", "absent"))

    app = Starlette(routes=[Route("/openai/v1/{path:path}", echo, methods=["POST"])])
    router = ApiRouter([(ApiRoute("ANY", "/openai/v1/{proxy+}"), app)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=router), base_url="http://local"
    ) as client:
        forged = '{"identity": {"sourceIp": "10.0.0.1"}}'
        response = await client.post(
            "/openai/v1/chat/completions", headers={"x-amzn-request-context": forged}
        )
    assert response.text == "absent"


# --- routes that need IAM ------------------------------------------------------------------

IAM_ROUTE = ApiRoute("ANY", "/iam/openai/v1/api-keys/{proxy+}", authorizer="AWS_IAM")
LOCAL_SIGNER = IamAuth(
    Credentials(LOCAL_IAM.access_key_id, LOCAL_IAM.secret_access_key), "us-east-1"
)


class Recorder:
    """An app that answers with what reached it: the request context and the body."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        request = Request(scope, receive)
        contexts = request.headers.getlist("x-amzn-request-context")
        body = await request.body()
        await JSONResponse({"contexts": [json.loads(c) for c in contexts], "body": body.decode()})(
            scope, receive, send
        )


def iam_router(app: Recorder, clock: Callable[[], datetime] | None = None) -> ApiRouter:
    routes = [(IAM_ROUTE, app), (ApiRoute("ANY", "/openai/v1/{proxy+}"), app)]
    if clock is None:
        return ApiRouter(routes, iam=LOCAL_IAM)
    return ApiRouter(routes, iam=LOCAL_IAM, clock=clock)


async def post(router: ApiRouter, auth: httpx.Auth | None, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=router), base_url="http://127.0.0.1:3000"
    ) as client:
        return await client.post(
            "/iam/openai/v1/api-keys/0123456789abcdef/rotate?dry=1",
            json={"grace": 3600},
            auth=auth,
            **kwargs,
        )


@pytest.mark.anyio
async def test_a_signed_request_reaches_the_app_with_api_gateways_context_and_its_body() -> None:
    app = Recorder()
    forged = json.dumps({"resourcePath": "/iam/x", "identity": {"userArn": "arn:aws:iam::1:root"}})
    response = await post(iam_router(app), LOCAL_SIGNER, headers={"x-amzn-request-context": forged})
    assert response.status_code == 200, response.text
    (context,) = response.json()["contexts"]  # the client's copy is gone, API Gateway's is there
    assert context["identity"]["userArn"] == LOCAL_USER_ARN
    assert context["identity"]["accountId"] == context["accountId"] == "123456789012"
    assert context["resourcePath"] == "/iam/openai/v1/api-keys/{proxy+}"
    assert context["httpMethod"] == "POST"
    assert json.loads(response.json()["body"]) == {"grace": 3600}


@pytest.mark.anyio
async def test_unsigned_bearer_and_badly_signed_requests_never_reach_the_app() -> None:
    app = Recorder()
    router = iam_router(app)
    unsigned = await post(router, None)
    assert unsigned.status_code == 404  # API Gateway's MISSING_AUTHENTICATION_TOKEN, as mapped
    assert unsigned.json()["error"]["code"] == "unknown_url"
    assert "SigV4" in unsigned.json()["error"]["message"]
    bearer = await post(router, None, headers={"authorization": "Bearer ggwlocal-admin"})
    assert (bearer.status_code, bearer.json()["error"]["code"]) == (403, "INCOMPLETE_SIGNATURE")
    wrong = IamAuth(Credentials(LOCAL_IAM.access_key_id, "wrong-secret"), "us-east-1")
    badly_signed = await post(router, wrong)
    assert (badly_signed.status_code, badly_signed.json()["error"]["code"]) == (
        403,
        "INVALID_SIGNATURE",
    )
    late = await post(
        iam_router(app, lambda: datetime.now(UTC) + timedelta(minutes=10)), LOCAL_SIGNER
    )
    assert late.status_code == 403
    assert late.json()["error"]["message"].startswith("Signature expired")
    assert app.calls == 0


@pytest.mark.anyio
async def test_routes_without_an_authoriser_get_no_request_context() -> None:
    app = Recorder()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=iam_router(app)), base_url="http://127.0.0.1:3000"
    ) as client:
        response = await client.post("/openai/v1/api-keys", json={}, auth=LOCAL_SIGNER)
    assert response.json()["contexts"] == []


def test_a_router_cannot_serve_iam_routes_without_knowing_who_may_call_them() -> None:
    with pytest.raises(ValueError, match="AWS_IAM"):
        ApiRouter([(IAM_ROUTE, PROXY)])
    with pytest.raises(ValueError, match="not played"):
        ApiRouter([(ApiRoute("GET", "/x", authorizer="COGNITO"), PROXY)], iam=LOCAL_IAM)


@pytest.mark.anyio
async def test_the_local_404_is_template_yamls_missing_authentication_token_answer() -> None:
    """API Gateway answers an unknown route and an unsigned IAM request alike, as the
    template's MISSING_AUTHENTICATION_TOKEN gateway response says; so does the local router."""
    template = TemplateModel.load(find_template(Path(__file__).parent))
    api = template.resources["GatewayApi"]["Properties"]
    response = api["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"]
    body = response["ResponseTemplates"]["application/json"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=iam_router(Recorder())), base_url="http://local"
    ) as client:
        for path in ("/v2/models", "/iam/openai/v1/api-keys/0123456789abcdef"):
            local = await client.delete(path)
            expected = body.replace("$context.httpMethod", "DELETE").replace("$context.path", path)
            assert local.status_code == response["StatusCode"]
            assert local.json() == json.loads(expected)
