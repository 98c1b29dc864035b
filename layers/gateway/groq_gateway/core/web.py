"""Exceptions as OpenAI-format HTTP answers, for every ASGI app of the gateway. An unexpected
one is a plain 500 without stack trace or request content; the log gets its type and request id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from groq_gateway.core.errors import GatewayError, unknown_url
from groq_gateway.core.observability import logger


def error_response(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 and friends, in OpenAI's format."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        return error_response(unknown_url(request.method, request.url.path, status=exc.status_code))
    return error_response(GatewayError(exc.status_code, str(exc.detail)))


INTERNAL_ERROR = GatewayError(
    500, "The gateway had an internal error.", type="api_error", code=None
)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    logger.error(
        "unexpected error",
        extra={"error_type": type(exc).__name__, "path": request.url.path},
    )
    return error_response(INTERNAL_ERROR)


EXCEPTION_HANDLERS = {
    GatewayError: handle_gateway_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def client_ip(headers: Mapping[str, str], peer: str | None) -> str | None:
    """The caller's address from the request context the Lambda Web Adapter passes along (it
    sets x-amzn-request-context itself): API Gateway REST's ``identity.sourceIp`` (payload 1.0)
    or a function URL's ``http.sourceIp`` (payload 2.0); else the TCP peer (local runs)."""
    context = headers.get("x-amzn-request-context")
    if context:
        try:
            parsed = json.loads(context)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            for part in ("identity", "http"):
                section = parsed.get(part)
                source = section.get("sourceIp") if isinstance(section, dict) else None
                if isinstance(source, str) and source:
                    return source
    return peer
