from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from groq_gateway.devserver.routing import ApiRouter
from groq_gateway.devserver.template import ApiRoute


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
