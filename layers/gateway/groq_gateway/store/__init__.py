"""The DynamoDB adapter: the only package that knows item layouts and key schemas, with one
repository per kind of record. See docs/architecture.md#the-table.

Example::

    GatewayStore(table_name="gateway").keys.get(key_id)
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from groq_gateway.store.counters import CounterStore
from groq_gateway.store.keys import KeyStore
from groq_gateway.store.org_leases import OrgLeaseStore
from groq_gateway.store.secret_use import SecretUseStore
from groq_gateway.store.table import (
    REQUEST_PATH_CONFIG,
    WRITE_ONCE_CONFIG,
    ConditionFailedError,
    StoreUnavailableError,
    Table,
    dynamodb_client,
)
from groq_gateway.store.teams import TeamStore
from groq_gateway.store.usage import UsageStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from groq_gateway.store.admin_keys import AdminKeyStore
    from groq_gateway.store.audit import AuditStore
    from groq_gateway.store.batches import BatchStore
    from groq_gateway.store.catalog import CatalogStore
    from groq_gateway.store.iam_principals import IamPrincipalStore
    from groq_gateway.store.notices import NoticeStore
    from groq_gateway.store.prices import PriceStore
    from groq_gateway.store.rollups import RollupStore


class GatewayStore:
    """Every repository over one table. The proxy's are built at once; the admin's and the
    poller's on first use, so that the proxy's cold start does not import their modules.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        once_client: DynamoDBClient | None = None,
    ) -> None:
        """``once_client``: the client of writes applied at most once (``Table.write_once``)."""
        self.table = Table(table_name, client, once_client)
        self.keys = KeyStore(self.table)
        self.teams = TeamStore(self.table)
        self.counters = CounterStore(self.table)
        self.org_leases = OrgLeaseStore(self.table)
        self.usage = UsageStore(self.table)
        self.secret_use = SecretUseStore(self.table)

    @classmethod
    def for_request_path(cls, table_name: str) -> GatewayStore:
        """The proxy's store: DynamoDB calls that fail fast (``REQUEST_PATH_CONFIG``), and its
        admission and settlement writes sent at most once (``WRITE_ONCE_CONFIG``)."""
        return cls(
            table_name,
            dynamodb_client(REQUEST_PATH_CONFIG),
            dynamodb_client(WRITE_ONCE_CONFIG),
        )

    @cached_property
    def catalog(self) -> CatalogStore:
        from groq_gateway.store.catalog import CatalogStore

        return CatalogStore(self.table)

    @cached_property
    def audit(self) -> AuditStore:
        from groq_gateway.store.audit import AuditStore

        return AuditStore(self.table)

    @cached_property
    def batches(self) -> BatchStore:
        from groq_gateway.store.batches import BatchStore

        return BatchStore(self.table)

    @cached_property
    def admin_keys(self) -> AdminKeyStore:
        from groq_gateway.store.admin_keys import AdminKeyStore

        return AdminKeyStore(self.table)

    @cached_property
    def iam_principals(self) -> IamPrincipalStore:
        from groq_gateway.store.iam_principals import IamPrincipalStore

        return IamPrincipalStore(self.table)

    @cached_property
    def rollups(self) -> RollupStore:
        from groq_gateway.store.rollups import RollupStore

        return RollupStore(self.table)

    @cached_property
    def notices(self) -> NoticeStore:
        from groq_gateway.store.notices import NoticeStore

        return NoticeStore(self.table)

    @cached_property
    def prices(self) -> PriceStore:
        from groq_gateway.store.prices import PriceStore

        return PriceStore(self.table)


__all__ = ["ConditionFailedError", "GatewayStore", "StoreUnavailableError"]
