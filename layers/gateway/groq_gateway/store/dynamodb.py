"""Items of the single gateway table, read and written with boto3's low-level client.

Item layout (``pk`` / ``sk``; ``gsi1pk`` / ``gsi1sk`` on the one index):

===========================  ===========  ==============  ===============================
item                         pk           sk              gsi1 (pk / sk)
===========================  ===========  ==============  ===============================
gateway key                  KEY#<id>     KEY             KEYS / <created_at>#<id>
model catalogue (polled)     CATALOG      MODELS          -
===========================  ===========  ==============  ===============================

Every write that creates or changes a record is conditional, so no caller can overwrite
another's work or leave half of a change behind.

Example::

    store = GatewayStore(table_name="gateway")
    store.create_key(key)
    assert store.get_key(key.key_id) == key
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from groq_gateway.models import GatewayKey, KeyStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Short timeouts and few retries: a request that waits on DynamoDB holds a client waiting too,
# and failing closed quickly (503) is better than hanging.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=3,
    retries={"max_attempts": 3, "mode": "standard"},
)


class StoreUnavailableError(Exception):
    """DynamoDB could not be reached or refused the call for a reason other than a condition."""


class ConditionFailedError(Exception):
    """A conditional write found the item in another state than it required."""


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _key_pk(key_id: str) -> str:
    return f"KEY#{key_id}"


class GatewayStore:
    """Reads and writes the gateway's records in one DynamoDB table."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client: DynamoDBClient = client or boto3.client("dynamodb", config=_CLIENT_CONFIG)

    # -- gateway keys ---------------------------------------------------------------------

    def create_key(self, key: GatewayKey) -> None:
        """Store a new key; fails with :class:`ConditionFailedError` if the id is taken."""
        record = key.model_dump(mode="json")
        item = {
            "pk": _key_pk(key.key_id),
            "sk": "KEY",
            "gsi1pk": "KEYS",
            "gsi1sk": f"{record['created_at']}#{key.key_id}",
            "record_type": "key",
            **record,
        }
        self._call(
            "put_item",
            TableName=self.table_name,
            Item=_to_item(item),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_key(self, key_id: str) -> GatewayKey | None:
        """The key with this id, read consistently, or ``None``."""
        response = self._call(
            "get_item",
            TableName=self.table_name,
            Key=_to_item({"pk": _key_pk(key_id), "sk": "KEY"}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return GatewayKey.model_validate(_from_item(item)) if item else None

    def list_keys(self, page_size: int = 100) -> Iterator[GatewayKey]:
        """Every key, oldest first, read page by page from the ``gsi1`` index."""
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :keys",
                "ExpressionAttributeValues": _to_item({":keys": "KEYS"}),
                "Limit": page_size,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self._call("query", **kwargs)
            for item in page.get("Items", []):
                yield GatewayKey.model_validate(_from_item(item))
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def set_key_status(self, key: GatewayKey, status: KeyStatus, now: datetime) -> GatewayKey:
        """Change a key's status if nobody changed the key since ``key`` was read.

        Raises :class:`ConditionFailedError` when the stored version differs.
        """
        updated = key.model_copy(
            update={"status": status, "updated_at": now, "version": key.version + 1}
        )
        self._call(
            "update_item",
            TableName=self.table_name,
            Key=_to_item({"pk": _key_pk(key.key_id), "sk": "KEY"}),
            UpdateExpression="SET #status = :status, updated_at = :now, version = :next",
            ConditionExpression="version = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_to_item(
                {
                    ":status": status.value,
                    ":now": now.isoformat(),
                    ":next": updated.version,
                    ":expected": key.version,
                }
            ),
        )
        return updated

    # -- upstream facts ---------------------------------------------------------------------

    def put_model_catalog(self, models: list[str], now: datetime) -> None:
        """The models Groq serves, as last polled (one item, replaced each poll)."""
        item = {
            "pk": "CATALOG",
            "sk": "MODELS",
            "record_type": "model_catalog",
            "models": models,
            "updated_at": now.isoformat(),
        }
        self._call("put_item", TableName=self.table_name, Item=_to_item(item))

    def get_model_catalog(self) -> list[str] | None:
        response = self._call(
            "get_item",
            TableName=self.table_name,
            Key=_to_item({"pk": "CATALOG", "sk": "MODELS"}),
        )
        item = response.get("Item")
        return list(_from_item(item)["models"]) if item else None

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailedError(operation) from error
            raise StoreUnavailableError(f"DynamoDB {operation} failed: {code}") from error
        except BotoCoreError as error:
            raise StoreUnavailableError(f"DynamoDB {operation} failed: {error}") from error
        return result
