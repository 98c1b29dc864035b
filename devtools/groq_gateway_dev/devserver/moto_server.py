"""moto's server made closer to DynamoDB: atomic requests, cheap transactions, short GCs.
See docs/architecture.md#the-local-run-groq-gateway-dev.

Example::

    python -m groq_gateway_dev.devserver.moto_server --host 127.0.0.1 --port 5000
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
