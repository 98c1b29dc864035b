"""A Lambda function URL, played locally: every path to one function's app, with the request
context (payload 2.0) the Lambda Web Adapter passes on. See template.yaml's ProxyFunctionUrl
and docs/operations.md#choosing-the-front-door.

Example::

    door = FunctionUrlDoor(proxy_app, domain="127.0.0.1:3001")
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from groq_gateway_dev.devserver.routing import (
    REQUEST_CONTEXT_HEADER,
    ASGIApp,
    Receive,
    Scope,
    Send,
)


def request_context(scope: Scope, domain: str) -> dict[str, Any]:
    """The ``requestContext`` a function URL sends (payload 2.0); ``http.sourceIp`` is the TCP
    peer, which no header of the client can change."""
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    client = scope.get("client")
    now = time.time()
    return {
        "accountId": "anonymous",
        "apiId": domain.split(".", 1)[0],
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": scope["method"],
            "path": scope["path"],
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "sourceIp": client[0] if client else "127.0.0.1",
            "userAgent": headers.get(b"user-agent", b"").decode("latin-1"),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }


class FunctionUrlDoor:
    """An ASGI app handing every request to ``app`` as a function URL with AuthType NONE does:
    no routes, no authoriser, the client's own x-amzn-request-context replaced by the one the
    Web Adapter would build. Lifespan events are not passed on: the ApiRouter serving the
    same apps runs them (one Lambda instance, one lifespan)."""

    def __init__(self, app: ASGIApp, *, domain: str) -> None:
        self._app = app
        self._domain = domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        context = json.dumps(request_context(scope, self._domain)).encode()
        scope["headers"] = [
            *(
                (name, value)
                for name, value in scope.get("headers", [])
                if name.lower() != REQUEST_CONTEXT_HEADER
            ),
            (REQUEST_CONTEXT_HEADER, context),
        ]
        await self._app(scope, receive, send)
