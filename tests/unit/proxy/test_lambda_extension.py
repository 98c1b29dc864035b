"""The post-response extension against a local stand-in for Lambda's Extensions API (an HTTP
server on 127.0.0.1 that ``AWS_LAMBDA_RUNTIME_API`` points at)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from groq_gateway.proxy.lambda_extension import API_VERSION, PostResponseExtension

# Small enough for tests to finish in well under a couple of seconds.
OPTIONS: dict[str, Any] = {
    "release_margin": 0.5,
    "arrival_timeout": 0.3,
    "retry_delay": 0.01,
    "max_retry_delay": 0.05,
}


class ExtensionsApi:
    """``register`` once, then ``next`` answers the queued events one per call, blocking until
    there is one; ``fail_next`` makes the coming ``next`` calls answer 500 instead."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self.next_calls: list[float] = []  # when each ``next`` call arrived
        self.failures_to_give = 0
        self.closing = False

    def invoke(self, request_id: str, deadline: float) -> None:
        with self.changed:
            self.events.append(
                {"eventType": "INVOKE", "requestId": request_id, "deadlineMs": deadline * 1000}
            )
            self.changed.notify_all()

    def fail_next(self, times: int) -> None:
        with self.changed:
            self.failures_to_give = times

    def wait_for_next_calls(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.next_calls) >= count, timeout=timeout)

    def next_event(self) -> tuple[int, dict[str, Any]]:
        with self.changed:
            self.next_calls.append(time.time())
            self.changed.notify_all()
            if self.failures_to_give:
                self.failures_to_give -= 1
                return 500, {"errorType": "Extension.Unknown"}
            self.changed.wait_for(lambda: self.events or self.closing)
            return 200, self.events.pop(0) if self.events else {}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ExtensionsApi]:
    state = ExtensionsApi()
    prefix = f"/{API_VERSION}/extension"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert self.path == f"{prefix}/register"
            self.rfile.read(int(self.headers["content-length"]))
            self.answer(200, {}, {"Lambda-Extension-Identifier": "ext-1"})

        def do_GET(self) -> None:
            assert self.path == f"{prefix}/event/next"
            assert self.headers["Lambda-Extension-Identifier"] == "ext-1"
            self.answer(*state.next_event())

        def answer(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {**(headers or {}), "content-length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{server.server_address[1]}")
    try:
        yield state
    finally:
        with state.changed:
            state.closing = True
            state.changed.notify_all()
        server.shutdown()
        server.server_close()


@pytest.fixture
def extension(api: ExtensionsApi) -> Iterator[PostResponseExtension]:
    """Registered, done with init: waiting for its first event."""
    extension = PostResponseExtension.from_environment(**OPTIONS)
    assert extension is not None
    extension.register()
    assert api.wait_for_next_calls(1, timeout=2)
    yield extension
    extension.stop()


def test_an_invocation_whose_request_never_reaches_the_app_is_released_early(
    api: ExtensionsApi, extension: PostResponseExtension
) -> None:
    invoked = time.time()
    api.invoke("lost", deadline=invoked + 30)
    assert api.wait_for_next_calls(2, timeout=1.5)
    assert api.next_calls[1] - invoked < 1.0  # the arrival timeout, not the deadline


def test_an_invocation_is_released_at_least_the_margin_before_its_deadline(
    api: ExtensionsApi, extension: PostResponseExtension
) -> None:
    deadline = time.time() + 1.2
    api.invoke("slow", deadline=deadline)
    extension.started("slow")  # arrived; its after-response work never finishes
    assert api.wait_for_next_calls(2, timeout=1.5)
    assert deadline - api.next_calls[1] >= OPTIONS["release_margin"] - 0.1


def test_a_next_call_that_fails_is_retried_and_the_next_invocation_served(
    api: ExtensionsApi, extension: PostResponseExtension
) -> None:
    api.fail_next(1)
    api.invoke("req-1", deadline=time.time() + 30)
    extension.started("req-1")
    extension.done("req-1")
    assert api.wait_for_next_calls(3, timeout=1)  # the failed call, then its retry

    api.invoke("req-2", deadline=time.time() + 30)
    extension.started("req-2")
    assert not api.wait_for_next_calls(4, timeout=0.2)  # held for req-2's work
    extension.done("req-2")
    assert api.wait_for_next_calls(4, timeout=1)
