"""API Gateway's routing, played locally: one port, each path to the function that owns it.

The routes come from the template's ``Api`` events. As in API Gateway, a literal path beats a
path with variables, and a greedy ``{proxy+}`` matches last.

Example::

    router = ApiRouter([(ApiRoute("ANY", "/openai/v1/{proxy+}"), proxy_app)])
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from groq_gateway.devserver.template import ApiRoute
from groq_gateway.errors import GatewayError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


class ApiRouter:
    """An ASGI app dispatching to the function apps like API Gateway does; ``/healthz`` is
    answered here, since API Gateway has no such route."""

    def __init__(self, routes: Sequence[tuple[ApiRoute, ASGIApp]]) -> None:
        compiled = []
        for route, app in routes:
            pattern, specificity = _compile(route)
            compiled.append(_CompiledRoute(route, pattern, specificity, app))
        self._routes = sorted(compiled, key=lambda r: r.specificity, reverse=True)
        self._apps = list({id(app): app for _, app in routes}.values())

    def match(self, method: str, path: str) -> ASGIApp | None:
        for compiled in self._routes:
            if compiled.pattern.fullmatch(path) and compiled.route.method in ("ANY", method):
                return compiled.app
        return None

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
            if name.lower() != b"x-amzn-request-context"
        ]
        if scope["path"] == "/healthz":
            await JSONResponse({"status": "ok"})(scope, receive, send)
            return
        app = self.match(scope["method"], scope["path"])
        if app is None:
            error = GatewayError(
                404,
                f"Unknown request URL: {scope['method']} {scope['path']}.",
                code="unknown_url",
            )
            await JSONResponse(error.body(), status_code=404)(scope, receive, send)
            return
        await app(scope, receive, send)

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
