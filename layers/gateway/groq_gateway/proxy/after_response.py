"""Work a request leaves for after its response (settlement, metrics, the log line), run by a
middleware once the whole response is sent. See docs/architecture.md#admission-and-settlement.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from groq_gateway.core.observability import logger

STATE_KEY = "after_response"
# The Lambda Web Adapter passes the invocation's context as JSON in this header.
LAMBDA_CONTEXT_HEADER = b"x-amzn-lambda-context"

Work = Callable[[], Awaitable[None]]


class AfterResponse:
    """One request's work for after its response, run in the order it was added."""

    def __init__(self) -> None:
        self._work: list[Work] = []

    def add(self, work: Work) -> None:
        self._work.append(work)

    async def run(self) -> None:
        """Run everything added (including work added while running); one failure is logged
        and does not stop the rest."""
        while self._work:
            work = self._work.pop(0)
            try:
                await work()
            except Exception as error:  # the response is already sent: log, go on
                logger.exception(
                    "after-response work failed", extra={"error_type": type(error).__name__}
                )


def after_response(request: Request) -> AfterResponse:
    """The request's :class:`AfterResponse` (the app must be wrapped in the middleware)."""
    work = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(work, AfterResponse):
        raise RuntimeError("the app is not wrapped in AfterResponseMiddleware")
    return work


def lambda_request_id(scope: Scope) -> str | None:
    """The Lambda invocation's request id the Web Adapter passed with the request, if any."""
    for name, value in scope.get("headers", ()):
        if name == LAMBDA_CONTEXT_HEADER:
            try:
                context = json.loads(value)
            except ValueError:
                return None
            request_id = context.get("request_id") if isinstance(context, dict) else None
            return request_id if isinstance(request_id, str) else None
    return None


class AfterResponseMiddleware:
    """Runs each HTTP request's :class:`AfterResponse` once the app has sent the response
    (the last stream chunk included), whether it ended normally, the client went away or the
    app raised; the client never waits for the work.

    ``on_start(request_id)`` and ``on_done(request_id)`` (both optional) bracket every HTTP
    request but those to ``unbracketed`` paths (the readiness probe), after-response work
    included; ``request_id`` is the Lambda invocation's, or None outside Lambda.

    Example::

        app = AfterResponseMiddleware(starlette_app, on_done=extension.done)
        after_response(request).add(settle_the_request)  # in an endpoint
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        on_start: Callable[[str | None], None] | None = None,
        on_done: Callable[[str | None], None] | None = None,
        unbracketed: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.on_start = on_start
        self.on_done = on_done
        self.unbracketed = unbracketed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bracketed = scope.get("path") not in self.unbracketed
        request_id = lambda_request_id(scope)
        if bracketed and self.on_start:
            self.on_start(request_id)
        work = AfterResponse()
        state: dict[str, Any] = scope.setdefault("state", {})
        state[STATE_KEY] = work
        try:
            await self.app(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await work.run()
            if bracketed and self.on_done:
                self.on_done(request_id)
