"""API Gateway's routing, played locally: one port, each path to the function that owns it.
See docs/architecture.md#the-local-run-groq-gateway-dev.

Example::

    router = ApiRouter([(ApiRoute("ANY", "/openai/v1/{proxy+}"), proxy_app)], iam=LOCAL_IAM)
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from groq_gateway.core.errors import GatewayError
from groq_gateway_dev.devserver.iam import (
    MISSING_AUTHENTICATION_TOKEN,
    LocalIam,
    SignatureRefused,
    SignedRequest,
)
from groq_gateway_dev.devserver.template import AWS_IAM, ApiRoute

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_CONTEXT_HEADER = b"x-amzn-request-context"
# API Gateway's own limit on a request body.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class _CompiledRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    specificity: tuple[int, int, int]
    app: ASGIApp


def _compile(route: ApiRoute) -> tuple[re.Pattern[str], tuple[int, int, int]]:
    parts = route.path.strip("/").split("/")
    regex, literals, variables, greedy = "", 0, 0, 0
    for part in parts:
        if part.endswith("+}"):
            regex += "/.+"
            greedy += 1
        elif part.startswith("{"):
            regex += "/[^/]+"
            variables += 1
        else:
            regex += "/" + re.escape(part)
            literals += 1
    # Sorted descending: fewer greedy parts first, then more literal segments, then fewer
    # variables.
    return re.compile(regex), (-greedy, literals, -variables)


async def _answer(error: GatewayError, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse(error.body(), status_code=error.status)(scope, receive, send)


def unknown_url(method: str, path: str) -> GatewayError:
    """template.yaml's MISSING_AUTHENTICATION_TOKEN answer: API Gateway gives it both for an
    unknown route and for an unsigned request on an AWS_IAM route."""
    return GatewayError(
        404,
        f"Unknown request URL: {method} {path} (routes under /iam/ also answer this when the "
        "request is not signed with SigV4)",
        code="unknown_url",
    )


def _refusal(refused: SignatureRefused, scope: Scope) -> GatewayError:
    """API Gateway's answer to a failed IAM check, as template.yaml's GatewayResponses shape
    it: the 404 for no signature at all, else DEFAULT_4XX with the response type as code."""
    if refused.response_type == MISSING_AUTHENTICATION_TOKEN:
        return unknown_url(scope["method"], scope["path"])
    return GatewayError(403, refused.message, code=refused.response_type)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, ``None`` if the client went away first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise GatewayError(
                413, "Request body over 10 MB (API Gateway's limit).", code="request_too_large"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _signed_request(scope: Scope, body: bytes) -> SignedRequest:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
    ]
    host = next((value for name, value in headers if name.lower() == "host"), "")
    raw_path = scope.get("raw_path") or scope["path"].encode()
    url = f"{scope['scheme']}://{host}{raw_path.split(b'?')[0].decode('latin-1')}"
    query = scope.get("query_string", b"").decode("latin-1")
    return SignedRequest(scope["method"], f"{url}?{query}" if query else url, headers, body)


class ApiRouter:
    """An ASGI app dispatching to the function apps like API Gateway does; ``/healthz`` is
    answered here, since API Gateway has no such route. ``iam`` is who may call the routes
    that need IAM; ``clock`` is what their signatures' dates are checked against."""

    def __init__(
        self,
        routes: Sequence[tuple[ApiRoute, ASGIApp]],
        *,
        iam: LocalIam | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        compiled = []
        for route, app in routes:
            if route.authorizer not in (None, AWS_IAM):
                raise ValueError(f"{route.path}: authorizer {route.authorizer} is not played")
            if route.needs_iam and iam is None:
                raise ValueError(f"{route.path} needs AWS_IAM: give the router an iam")
            pattern, specificity = _compile(route)
            compiled.append(_CompiledRoute(route, pattern, specificity, app))
        self._routes = sorted(compiled, key=lambda r: r.specificity, reverse=True)
        self._apps = list({id(app): app for _, app in routes}.values())
        self._iam = iam
        self._clock = clock

    def route_for(self, method: str, path: str) -> _CompiledRoute | None:
        # API Gateway (REST) matches a path with one trailing slash as the path without it
        # (/console/ is the /console route's); the app still gets the path as it was sent.
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        for compiled in self._routes:
            if compiled.pattern.fullmatch(path) and compiled.route.method in ("ANY", method):
                return compiled
        return None

    def match(self, method: str, path: str) -> ASGIApp | None:
        """The app API Gateway would send this request to, if any."""
        compiled = self.route_for(method, path)
        return compiled.app if compiled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        # API Gateway's request context reaches the apps only from the Lambda Web Adapter,
        # which sets x-amzn-request-context itself; a client's own copy is never trusted.
        scope["headers"] = [
            (name, value)
            for name, value in scope.get("headers", [])
            if name.lower() != REQUEST_CONTEXT_HEADER
        ]
        if scope["path"] == "/healthz":
            await JSONResponse({"status": "ok"})(scope, receive, send)
            return
        compiled = self.route_for(scope["method"], scope["path"])
        if compiled is None:
            await _answer(unknown_url(scope["method"], scope["path"]), scope, receive, send)
            return
        if compiled.route.needs_iam:
            await self._call_signed(compiled, scope, receive, send)
            return
        await compiled.app(scope, receive, send)

    async def _call_signed(
        self, compiled: _CompiledRoute, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """API Gateway's AWS_IAM check, then the app with the caller in the request context."""
        assert self._iam is not None  # __init__ refuses IAM routes without it
        try:
            body = await _read_body(receive)
        except GatewayError as too_large:
            await _answer(too_large, scope, receive, send)
            return
        if body is None:
            return
        now = self._clock()
        try:
            self._iam.verify(_signed_request(scope, body), now=now)
        except SignatureRefused as refused:
            await _answer(_refusal(refused, scope), scope, receive, send)
            return
        headers = dict(scope["headers"])
        client = scope.get("client")
        context = self._iam.request_context(
            method=scope["method"],
            path=scope["path"],
            resource_path=compiled.route.path,
            source_ip=client[0] if client else None,
            user_agent=headers[b"user-agent"].decode("latin-1")
            if b"user-agent" in headers
            else None,
            now=now,
        )
        scope["headers"] = [
            *scope["headers"],
            (REQUEST_CONTEXT_HEADER, json.dumps(context).encode()),
        ]
        await compiled.app(scope, _replay(body, receive), send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Run every function app's lifespan, as each Lambda instance would run its own."""
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with AsyncExitStack() as stack:
            try:
                for app in self._apps:
                    lifespan = getattr(getattr(app, "router", None), "lifespan_context", None)
                    if lifespan is not None:
                        await stack.enter_async_context(lifespan(app))
            except Exception as error:
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})
