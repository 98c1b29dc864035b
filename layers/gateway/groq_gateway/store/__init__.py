"""The DynamoDB adapter: the only package that knows item layouts and key schemas.

One table holds every record; each kind of record has its own small repository, reached
through :class:`GatewayStore`. See docs/architecture.md for the table design and every
access pattern.

Example::

    store = GatewayStore(table_name="gateway")
    store.keys.create(key)
    assert store.keys.get(key.key_id) == key
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groq_gateway.store.admin_keys import AdminKeyStore
from groq_gateway.store.audit import AuditStore
from groq_gateway.store.catalog import CatalogStore
from groq_gateway.store.counters import CounterStore
from groq_gateway.store.keys import KeyStore
from groq_gateway.store.notices import NoticeStore
from groq_gateway.store.rollups import RollupStore
from groq_gateway.store.secret_use import SecretUseStore
from groq_gateway.store.table import ConditionFailedError, StoreUnavailableError, Table
from groq_gateway.store.teams import TeamStore
from groq_gateway.store.usage import UsageStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


class GatewayStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = Table(table_name, client)
        self.keys = KeyStore(self.table)
        self.teams = TeamStore(self.table)
        self.catalog = CatalogStore(self.table)
        self.counters = CounterStore(self.table)
        self.usage = UsageStore(self.table)
        self.audit = AuditStore(self.table)
        self.admin_keys = AdminKeyStore(self.table)
        self.secret_use = SecretUseStore(self.table)
        self.rollups = RollupStore(self.table)
        self.notices = NoticeStore(self.table)


__all__ = ["ConditionFailedError", "GatewayStore", "StoreUnavailableError"]
