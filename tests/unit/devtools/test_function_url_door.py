"""The local function URL (``groq-gateway dev --front-door function-url``): every path to the
one function, the caller's address as a function URL gives it, which no client can forge."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from groq_gateway.core.web import client_ip
from groq_gateway_dev.devserver.function_url import FunctionUrlDoor
from groq_gateway_dev.devserver.template import FunctionUrlSpec, TemplateModel, find_template


async def echo(request: Request) -> JSONResponse:
    contexts = request.headers.getlist("x-amzn-request-context")
    peer = request.client.host if request.client else None
    return JSONResponse(
        {
            "path": request.url.path,
            "contexts": [json.loads(context) for context in contexts],
            "client_ip": client_ip(request.headers, peer),
        }
    )


APP = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


def door_client(client_address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=FunctionUrlDoor(APP, domain="abc.lambda-url.local"), client=(client_address, 5123)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://local")


@pytest.mark.anyio
async def test_the_caller_address_is_the_peer_and_a_forged_context_is_dropped() -> None:
    forged = json.dumps({"http": {"sourceIp": "10.0.0.1"}, "identity": {"sourceIp": "10.0.0.1"}})
    async with door_client("203.0.113.7") as client:
        response = await client.post(
            "/openai/v1/chat/completions", headers={"x-amzn-request-context": forged}
        )
    body = response.json()
    (context,) = body["contexts"]
    assert context["http"]["sourceIp"] == "203.0.113.7"
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/openai/v1/chat/completions"
    assert "identity" not in context
    assert body["client_ip"] == "203.0.113.7"


@pytest.mark.anyio
async def test_every_path_reaches_the_function() -> None:
    async with door_client("198.51.100.1") as client:
        for path in ("/openai/v1/models", "/healthz", "/anything/else"):
            response = await client.get(path)
            assert response.status_code == 200
            assert response.json()["path"] == path


def test_the_template_names_the_proxy_behind_a_streaming_function_url() -> None:
    template = TemplateModel.load(find_template())
    assert template.function_urls() == [
        FunctionUrlSpec(
            logical_id="ProxyFunctionUrl",
            function="ProxyFunction",
            invoke_mode="RESPONSE_STREAM",
            auth_type="NONE",
        )
    ]
    web_apps = {f.logical_id for f in template.functions() if f.is_web_app}
    assert "ProxyFunction" in web_apps
