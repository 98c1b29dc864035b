"""moto's server, with each request handled atomically, as DynamoDB handles each write.

moto's own server runs requests in threads and its DynamoDB checks a condition and then
writes, without a lock: two concurrent conditional updates can both pass. Real DynamoDB
never lets that happen, and the gateway's limits rely on it. This wrapper serves moto's
application with one lock around each request (requests stay on their own threads and
connections; only their handling is serialized), so concurrency tests measure the gateway,
not the emulator.

Run: ``python -m groq_gateway.devserver.moto_server --host 127.0.0.1 --port 5000``
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

StartResponse = Callable[..., Any]


class Serialized:
    """A WSGI app that runs one request at a time, its whole response included."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        Serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
