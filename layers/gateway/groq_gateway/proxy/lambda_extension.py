"""A Lambda internal extension that holds the environment until after-response work is done.
See docs/architecture.md#admission-and-settlement.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Any

from groq_gateway.core.observability import logger

EXTENSION_NAME = "groq-gateway-post-response"
API_VERSION = "2020-01-01"
# How many finished request ids to remember: invocations are serialised per environment,
# so only the last few can matter.
REMEMBERED_IDS = 64

Transport = Callable[[urllib.request.Request, float | None], Any]


def _urlopen(request: urllib.request.Request, timeout: float | None) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - see the callers


class PostResponseExtension:
    """A thread of the function's own process, registered with the Extensions API during
    init. For each INVOKE it asks for the next event only once the invocation's request has
    finished its after-response work, or at the invocation's deadline: Lambda freezes nothing
    before that. The wait is billed as duration, never added to the client's latency.

    Example (what ``create_app`` does)::

        extension = PostResponseExtension.from_environment()  # None outside Lambda
        if extension:
            extension.register()  # during init: in the app's startup
        app = AfterResponseMiddleware(app, on_start=extension.started, on_done=extension.done)
    """

    def __init__(
        self,
        runtime_api: str,
        *,
        transport: Transport = _urlopen,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = f"http://{runtime_api}/{API_VERSION}/extension"
        self._transport = transport
        self._clock = clock
        self._changed = threading.Condition()
        self._in_flight = 0
        self._completed_without_id = 0
        self._finished_ids: deque[str] = deque(maxlen=REMEMBERED_IDS)
        self._identifier: str | None = None

    @classmethod
    def from_environment(cls) -> PostResponseExtension | None:
        runtime_api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
        return cls(runtime_api) if runtime_api else None

    # -- the app's side --------------------------------------------------------------------

    def started(self, request_id: str | None) -> None:
        """A request arrived (its after-response work is not done yet)."""
        with self._changed:
            self._in_flight += 1

    def done(self, request_id: str | None) -> None:
        """A request's response was sent and its after-response work is done."""
        with self._changed:
            self._in_flight -= 1
            if request_id:
                self._finished_ids.append(request_id)
            else:
                self._completed_without_id += 1
            self._changed.notify_all()

    # -- the Extensions API's side ---------------------------------------------------------

    def register(self) -> None:
        """Register for INVOKE events and start the event loop; call during init."""
        request = urllib.request.Request(  # noqa: S310 - always http://, Lambda's local API
            f"{self._base}/register",
            data=json.dumps({"events": ["INVOKE"]}).encode(),
            headers={"Lambda-Extension-Name": EXTENSION_NAME},
            method="POST",
        )
        with self._transport(request, 5.0) as response:
            self._identifier = response.headers["Lambda-Extension-Identifier"]
        threading.Thread(target=self._run, name=EXTENSION_NAME, daemon=True).start()

    def _next_event(self) -> dict[str, Any]:
        assert self._identifier is not None
        request = urllib.request.Request(  # noqa: S310 - always http://, Lambda's local API
            f"{self._base}/event/next",
            headers={"Lambda-Extension-Identifier": self._identifier},
        )
        with self._transport(request, None) as response:
            event: dict[str, Any] = json.loads(response.read())
            return event

    def _run(self) -> None:
        while True:
            with self._changed:
                completed_before = self._completed_without_id
            try:
                event = self._next_event()
            except Exception as error:  # the API went away: nothing left to hold
                logger.warning(
                    "post-response extension stopped", extra={"error_type": type(error).__name__}
                )
                return
            if event.get("eventType") == "INVOKE":
                self.wait_for_invocation(
                    event.get("requestId"), event.get("deadlineMs"), completed_before
                )

    def wait_for_invocation(
        self, request_id: object, deadline_ms: object, completed_before: int
    ) -> bool:
        """Block until the invocation's request is done; False if the deadline came first.

        Done means: its request id (the Web Adapter passes it with the request) is among
        the finished ones; or, should requests come without one, a request without an id
        finished since the previous invocation was released and none is in flight.
        """
        deadline = (
            deadline_ms / 1000 if isinstance(deadline_ms, int | float) else self._clock() + 900
        )
        with self._changed:
            while True:
                if isinstance(request_id, str) and request_id in self._finished_ids:
                    return True
                if self._completed_without_id > completed_before and self._in_flight == 0:
                    return True
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return False
                self._changed.wait(timeout=min(remaining, 1.0))
