"""moto's server, with each request handled atomically, as DynamoDB handles each write.

moto's own server runs requests in threads and its DynamoDB checks a condition and then
writes, without a lock: two concurrent conditional updates can both pass. Real DynamoDB
never lets that happen, and the gateway's limits rely on it. This wrapper serves moto's
application with one lock around each request (requests stay on their own threads and
connections; only their handling is serialized), so concurrency tests measure the gateway,
not the emulator.

It also makes moto's ``TransactWriteItems`` snapshot only the items a transaction touches.
moto deep-copies the whole table before every transaction (to roll back on a cancellation),
so each admission would cost time in proportion to everything the table holds (every
metering item ever written), which DynamoDB does not; the benchmark (bench/) would then
measure the emulator's growth, not the gateway. What a cancelled transaction leaves behind
is the same either way: the touched items as they were.

And it keeps Python's full garbage collections short: moto holds every item as Python
objects, and a full collection walks them all (45 to 50 ms once a benchmark has filled the
table), stalling every request behind the lock, which DynamoDB does not do. What has
survived a full collection (and moto's own modules, at start) is frozen (``gc.freeze``), so
the next collections walk only what is newer.

Run: ``python -m groq_gateway_dev.devserver.moto_server --host 127.0.0.1 --port 5000``
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import threading
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
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
        self.full_collections = gc.get_stats()[2]["collections"]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        with self.lock:
            response = list(self.app(environ, start_response))
            full_collections = gc.get_stats()[2]["collections"]
            if full_collections != self.full_collections:
                self.full_collections = full_collections
                gc.freeze()  # what survived a full collection is not walked again
            return response


Snapshot = tuple[Any, DynamoType, DynamoType | None, Any]
_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items
# moto's ``copy`` during a transaction: tables are not copied, everything else is as before.
_NO_TABLE_COPY = SimpleNamespace(
    deepcopy=lambda value: value if isinstance(value, Table) else copy.deepcopy(value)
)


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[Snapshot] | None:
    """A copy of each item the transaction names, as it is now (None where absent); None
    when an entry is not plain enough to tell (moto's own path then handles it)."""
    snapshots: list[Snapshot] = []
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName"))
            attributes = operation.get("Key") or operation.get("Item")
            if table is None or not isinstance(attributes, dict):
                return None
            if table.hash_key_attr not in attributes:
                return None
            hash_key = DynamoType(attributes[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attributes:
                    return None
                range_key = DynamoType(attributes[table.range_key_attr])
            item = table.get_item(hash_key, range_key)
            snapshots.append((table, hash_key, range_key, copy.deepcopy(item)))
    return snapshots


def _restore(snapshots: list[Snapshot]) -> None:
    for table, hash_key, range_key, item in reversed(snapshots):
        if item is None:
            if table.get_item(hash_key, range_key) is not None:
                table.delete_item(hash_key, range_key)
        elif range_key is None:
            table.items[hash_key] = item
        else:
            table.items[hash_key][range_key] = item


def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transaction, rolled back from a snapshot of the touched items only. Runs under
    the server's lock (one request at a time), so swapping moto's ``copy`` is safe."""
    snapshots = _touched_items(backend, transact_items)
    if snapshots is None:
        _moto_transact_write_items(backend, transact_items)
        return
    dynamodb_models.copy = _NO_TABLE_COPY  # type: ignore[attr-defined,assignment]
    try:
        _moto_transact_write_items(backend, transact_items)
    except BaseException:
        _restore(snapshots)
        raise
    finally:
        dynamodb_models.copy = copy  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]
    app = DomainDispatcherApplication(create_backend_app)
    gc.collect()
    gc.freeze()  # moto's modules and the app: never garbage, never walked again
    run_simple(
        args.host,
        args.port,
        Serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
