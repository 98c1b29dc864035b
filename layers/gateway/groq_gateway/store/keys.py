"""Gateway key records: ``pk = KEY#<key id>``, ``sk = KEY``; listed through ``gsi1 = KEYS``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from groq_gateway.models import GatewayKey, KeyStatus
from groq_gateway.store.table import Table, to_item


def key_pk(key_id: str) -> str:
    return f"KEY#{key_id}"


class KeyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, key: GatewayKey) -> None:
        """Store a new key; :class:`ConditionFailedError` if the id is taken."""
        record = key.model_dump(mode="json")
        item = {
            "pk": key_pk(key.key_id),
            "sk": "KEY",
            "gsi1pk": "KEYS",
            "gsi1sk": f"{record['created_at']}#{key.key_id}",
            "record_type": "key",
            **record,
        }
        self.table.call(
            "put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def get(self, key_id: str) -> GatewayKey | None:
        """The key with this id, read consistently, or ``None``."""
        item = self.table.get(key_pk(key_id), "KEY")
        return GatewayKey.model_validate(item) if item else None

    def list_all(self, page_size: int = 100) -> Iterator[GatewayKey]:
        """Every key, oldest first."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :keys",
            ExpressionAttributeValues=to_item({":keys": "KEYS"}),
            Limit=page_size,
        )
        for item in items:
            yield GatewayKey.model_validate(item)

    def set_status(self, key: GatewayKey, status: KeyStatus, now: datetime) -> GatewayKey:
        """Change a key's status if nobody changed the key since ``key`` was read."""
        updated = key.model_copy(
            update={"status": status, "updated_at": now, "version": key.version + 1}
        )
        self.table.call(
            "update_item",
            Key=to_item({"pk": key_pk(key.key_id), "sk": "KEY"}),
            UpdateExpression="SET #status = :status, updated_at = :now, version = :next",
            ConditionExpression="version = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":status": status.value,
                    ":now": updated.model_dump(mode="json")["updated_at"],
                    ":next": updated.version,
                    ":expected": key.version,
                }
            ),
        )
        return updated
