"""The proxy's ASGI app: ``/openai/v1/...`` for apps using the openai or groq SDKs.

The path before the first upstream byte is kept minimal: the key record comes from a
short-lived cache, the checks are in memory, and the body is forwarded as it came.

Example (what ``functions/proxy/app.py`` does)::

    app = create_app()
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from groq_gateway.errors import GatewayError, not_found
from groq_gateway.http_errors import EXCEPTION_HANDLERS
from groq_gateway.models import GatewayKey
from groq_gateway.proxy.auth import KeyAuthenticator
from groq_gateway.proxy.endpoints import Endpoint, resolve_endpoint
from groq_gateway.proxy.upstream import Upstream, response_headers
from groq_gateway.secrets import UpstreamKeys
from groq_gateway.settings import Settings, get_settings
from groq_gateway.store import GatewayStore

# API Gateway's own payload limit; larger bodies never reach the function in AWS.
MAX_BODY_BYTES = 10 * 1024 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    store: GatewayStore | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    settings = settings or get_settings()
    store = store or GatewayStore(settings.table_name)
    authenticator = KeyAuthenticator(store, cache_seconds=settings.key_cache_seconds)
    upstream = Upstream(
        settings.upstream_root,
        UpstreamKeys(settings.upstream_key_secret_id, settings.upstream_key_cache_seconds),
        httpx.Timeout(
            settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds
        ),
        transport=upstream_transport,
    )

    async def proxy(request: Request) -> Response:
        path = request.path_params["path"]
        endpoint = resolve_endpoint(request.method, path)
        if endpoint is None:
            raise not_found(f"Unknown request URL: {request.method} /openai/v1/{path}.")
        key = await authenticator.authenticate(request.headers.get("authorization"))
        check_endpoint(key, endpoint)
        body = await read_body(request)
        if endpoint.json_model:
            check_model(key, requested_model(body))
        response = await upstream.send(
            request.method,
            path,
            query=request.url.query,
            headers=request.headers,
            body=body,
        )
        if path == "models" and response.status_code == 200:
            return await filtered_model_list(key, response)
        return StreamingResponse(
            passthrough(response),
            status_code=response.status_code,
            headers=response_headers(response.headers),
            background=BackgroundTask(response.aclose),
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await upstream.aclose()

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(
                "/openai/v1/{path:path}",
                proxy,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


async def passthrough(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """Each upstream chunk, as it arrives; closing the generator stops the upstream read."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise body_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise body_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large() -> GatewayError:
    return GatewayError(
        413,
        f"Request body is larger than the gateway's limit of {MAX_BODY_BYTES} bytes.",
        code="request_too_large",
    )


def requested_model(body: bytes) -> str:
    """The ``model`` of a JSON request body, or a 400 saying what is wrong."""
    try:
        payload: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GatewayError(
            400, "The request body is not valid JSON.", code="invalid_json"
        ) from error
    if not isinstance(payload, dict):
        raise GatewayError(400, "The request body must be a JSON object.", code="invalid_json")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise GatewayError(
            400, "You must provide a model parameter.", code="missing_model", param="model"
        )
    return model


def check_endpoint(key: GatewayKey, endpoint: Endpoint) -> None:
    if endpoint.group not in key.endpoint_groups:
        raise GatewayError(
            403,
            f"This key may not use the {endpoint.group.value} endpoints.",
            code="endpoint_not_allowed",
        )


def check_model(key: GatewayKey, model: str) -> None:
    if key.allowed_models is not None and model not in key.allowed_models:
        raise GatewayError(
            403,
            f"Model not in key's allowed list: the model `{model}` is not available to this key.",
            code="model_not_available",
            param="model",
        )


async def filtered_model_list(key: GatewayKey, response: httpx.Response) -> Response:
    """``GET /models`` lists only the models the key may use."""
    try:
        payload = json.loads(await response.aread())
    finally:
        await response.aclose()
    if key.allowed_models is not None and isinstance(payload.get("data"), list):
        allowed = set(key.allowed_models)
        payload["data"] = [m for m in payload["data"] if m.get("id") in allowed]
    return JSONResponse(payload, headers=response_headers(response.headers))
