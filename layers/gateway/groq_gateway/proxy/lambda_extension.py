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
# How many started and finished request ids to remember: invocations are serialised per
# environment, so only the last few can matter.
REMEMBERED_IDS = 64
# An invocation is released this long before its deadline, so that calling ``next`` never
# races the function's timeout.
RELEASE_MARGIN_SECONDS = 2.0
# The Web Adapter forwards an invocation's request as soon as it gets the event; if none has
# reached the app this long after the INVOKE event, it never will (say the adapter could not
# connect), and there is nothing to hold the environment for.
ARRIVAL_TIMEOUT_SECONDS = 5.0
# After a failed ``next`` call, wait this long before the next try, doubling up to the most.
RETRY_DELAY_SECONDS = 0.1
MAX_RETRY_DELAY_SECONDS = 2.0

Transport = Callable[[urllib.request.Request, float | None], Any]


def _urlopen(request: urllib.request.Request, timeout: float | None) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - see the callers


class PostResponseExtension:
    """A thread of the function's own process, registered with the Extensions API during
    init. For each INVOKE it asks for the next event only once the invocation's request has
    finished its after-response work: Lambda freezes nothing before that. It lets go sooner
    when the request has not reached the app ``arrival_timeout`` after the event, and always
    ``release_margin`` before the invocation's deadline. The wait is billed as duration,
    never added to the client's latency. A failed ``next`` call is retried: the invoke phase
    ends only once every registered extension has called it.

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
        release_margin: float = RELEASE_MARGIN_SECONDS,
        arrival_timeout: float = ARRIVAL_TIMEOUT_SECONDS,
        retry_delay: float = RETRY_DELAY_SECONDS,
        max_retry_delay: float = MAX_RETRY_DELAY_SECONDS,
    ) -> None:
        self._base = f"http://{runtime_api}/{API_VERSION}/extension"
        self._transport = transport
        self._clock = clock
        self._release_margin = release_margin
        self._arrival_timeout = arrival_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._changed = threading.Condition()
        self._in_flight = 0
        self._started_without_id = 0
        self._completed_without_id = 0
        self._started_ids: deque[str] = deque(maxlen=REMEMBERED_IDS)
        self._finished_ids: deque[str] = deque(maxlen=REMEMBERED_IDS)
        self._identifier: str | None = None
        self._stopping = threading.Event()

    @classmethod
    def from_environment(cls, **options: Any) -> PostResponseExtension | None:
        runtime_api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
        return cls(runtime_api, **options) if runtime_api else None

    # -- the app's side --------------------------------------------------------------------

    def started(self, request_id: str | None) -> None:
        """A request arrived (its after-response work is not done yet)."""
        with self._changed:
            self._in_flight += 1
            if request_id:
                self._started_ids.append(request_id)
            else:
                self._started_without_id += 1
            self._changed.notify_all()

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

    def stop(self) -> None:
        """End the event loop once its current ``next`` call returns (for tests: in Lambda the
        loop lasts as long as the process)."""
        self._stopping.set()

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
        delay = self._retry_delay
        while not self._stopping.is_set():
            with self._changed:
                started_before = self._started_without_id
                completed_before = self._completed_without_id
            try:
                event = self._next_event()
            except Exception as error:  # retried: a lost loop would time out every invocation
                logger.warning(
                    "post-response extension: next event failed; retrying",
                    extra={"error_type": type(error).__name__, "retry_in_s": delay},
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, self._max_retry_delay)
                continue
            delay = self._retry_delay
            if event.get("eventType") == "INVOKE":
                self.wait_for_invocation(
                    event.get("requestId"),
                    event.get("deadlineMs"),
                    completed_before,
                    started_before=started_before,
                )

    def wait_for_invocation(
        self,
        request_id: object,
        deadline_ms: object,
        completed_before: int,
        *,
        started_before: int | None = None,
    ) -> bool:
        """Block until the invocation's request is done; False if it was let go first:
        ``release_margin`` before the deadline, or ``arrival_timeout`` after this call when
        the request has not reached the app by then.

        Done means: its request id (the Web Adapter passes it with the request) is among
        the finished ones; or, should requests come without one, a request without an id
        finished since the previous invocation was released and none is in flight. Arrived
        means: its id is among the started ones, a request without an id started since the
        previous release, or a request is in flight.
        """
        now = self._clock()
        deadline = deadline_ms / 1000 if isinstance(deadline_ms, int | float) else now + 900
        release_at = deadline - self._release_margin
        arrival_by = now + self._arrival_timeout
        with self._changed:
            if started_before is None:
                started_before = self._started_without_id
            while True:
                if isinstance(request_id, str) and request_id in self._finished_ids:
                    return True
                if self._completed_without_id > completed_before and self._in_flight == 0:
                    return True
                arrived = (
                    (isinstance(request_id, str) and request_id in self._started_ids)
                    or self._started_without_id > started_before
                    or self._in_flight > 0
                )
                now = self._clock()
                if not arrived and now >= arrival_by:
                    logger.warning("post-response extension: the request never reached the app")
                    return False
                if now >= release_at:
                    if arrived:
                        logger.warning("post-response extension: released before the deadline")
                    return False
                wake_at = release_at if arrived else min(release_at, arrival_by)
                self._changed.wait(timeout=min(wake_at - now, 1.0))
