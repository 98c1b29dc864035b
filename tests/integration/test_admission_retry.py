"""An admission whose answer is late must not be counted twice.

Admission is one conditional ``UpdateItem`` on the counter item (``ADD`` to the months, ``+ 1``
to the window). Sent with a client that retries (``REQUEST_PATH_CONFIG``: two attempts), a
write DynamoDB applied but answered after the read timeout was sent again and applied again:
the request counted twice in its minute window and its reservation twice in the months, where
settlement (which replaces one reservation) left the second for the rest of the month.
``TransactWriteItems`` is safe from this on DynamoDB (botocore sends the same
``ClientRequestToken`` again); ``UpdateItem`` has no such token.

Here a pass-through in front of moto's server holds back the answer to an admission's
``UpdateItem`` for longer than the read timeout, after moto has applied it. The proxy's store
(``GatewayStore.for_request_path``) sends single-item admissions with ``Table.write_once``,
never resent after a timeout: the late write counts once and the request fails closed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from groq_gateway.core.limits import AdmissionPlan, Scope, SpendReservation, WindowCount
from groq_gateway.core.periods import minute_of, month_of, utcnow
from groq_gateway.store import GatewayStore
from groq_gateway.store.table import (
    REQUEST_PATH_CONFIG,
    WRITE_ONCE_CONFIG,
    StoreUnavailableError,
)

_HOP = frozenset({"content-length", "transfer-encoding", "connection", "server", "date"})


class LateAnswers:
    """Forwards every call to ``target`` at once; holds back the answers to the first
    ``late`` calls of ``operation`` (``DynamoDB_20120810.UpdateItem``) for ``delay`` s."""

    def __init__(self, target: str, operation: str, late: int, delay: float) -> None:
        self.sent: list[str] = []
        upstream = urlsplit(target)
        outer = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                name = self.headers.get("x-amz-target", "")
                with lock:
                    outer.sent.append(name)
                    hold = name == operation and outer.sent.count(name) <= late
                connection = HTTPConnection(upstream.hostname or "", upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request("POST", self.path, body, headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                if hold:
                    time.sleep(delay)  # applied by moto; the answer is late
                try:
                    self.send_response(response.status)
                    for header, value in response.getheaders():
                        if header.lower() not in _HOP:
                            self.send_header(header, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def late_first_update(aws_endpoint: str) -> Iterator[LateAnswers]:
    timeouts = [vars(config)["read_timeout"] for config in (REQUEST_PATH_CONFIG, WRITE_ONCE_CONFIG)]
    late = LateAnswers(aws_endpoint, "DynamoDB_20120810.UpdateItem", 1, max(timeouts) + 0.5)
    yield late
    late.close()


def test_an_admission_answered_late_is_counted_once(
    local_aws: dict[str, str], late_first_update: LateAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = GatewayStore(local_aws["GatewayTable"])  # moto's server, directly
    monkeypatch.setenv("AWS_ENDPOINT_URL", late_first_update.url)
    store = GatewayStore.for_request_path(local_aws["GatewayTable"])  # as the proxy makes it
    now = utcnow()
    key_id, month = "latekey000000000", month_of(now)
    plan = AdmissionPlan(
        windows=(WindowCount(Scope.KEY, key_id, minute_of(now), 10, 100, None),),
        reservations=(SpendReservation(Scope.KEY, key_id, month, 7, 1_000_000),),
        at=now,
    )
    reader.counters.admit(plan)  # directly: the minute's window is started, 1 request
    with contextlib.suppress(StoreUnavailableError):  # failing closed is allowed
        store.counters.admit(plan)  # its write is applied, its answer late
    requests, _ = reader.counters.window(Scope.KEY, key_id, minute_of(now))
    committed = reader.counters.month_spend(Scope.KEY, key_id, month).committed_micros
    sends = late_first_update.sent.count("DynamoDB_20120810.UpdateItem")
    assert sends == 1
    assert (requests, committed) in ((1, 7), (2, 14)), (
        f"two admissions counted as {requests}, {committed} micros reserved (7 each), "
        f"after {sends} UpdateItem sends"
    )
