"""When and from where a replaced secret was last used (``SEEN#`` items): written at settlement
for replaced secrets only, read by the rotation function to retire the quiet ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from groq_gateway.store.keys import key_pk
from groq_gateway.store.table import Table, to_item

# Kept a month past the secret's deadline, for the audit of what happened.
RETENTION = timedelta(days=30)


def _sort_key(secret_hash: str) -> str:
    return f"SEEN#{secret_hash[:16]}"


@dataclass(frozen=True)
class SecretUse:
    last_used_at: datetime
    last_source_ip: str | None
    uses: int


class SecretUseStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def seen_update(
        self,
        key_id: str,
        secret_hash: str,
        at: datetime,
        source_ip: str | None,
        retire_by: datetime | None,
    ) -> dict[str, Any]:
        """The ``Update`` of a transaction that records one use of a replaced secret."""
        values: dict[str, Any] = {":at": at.isoformat(), ":one": 1}
        sets = "last_used_at = :at"
        if source_ip:
            sets += ", last_source_ip = :ip"
            values[":ip"] = source_ip
        if retire_by is not None:
            sets += ", #ttl = :ttl"
            values[":ttl"] = int((retire_by + RETENTION).timestamp())
        update: dict[str, Any] = {
            "TableName": self.table.name,
            "Key": to_item({"pk": key_pk(key_id), "sk": _sort_key(secret_hash)}),
            "UpdateExpression": f"SET {sets} ADD uses :one",
            "ExpressionAttributeValues": to_item(values),
        }
        if retire_by is not None:
            update["ExpressionAttributeNames"] = {"#ttl": "ttl"}
        return update

    def get(self, key_id: str, secret_hash: str) -> SecretUse | None:
        item = self.table.get(key_pk(key_id), _sort_key(secret_hash))
        if item is None:
            return None
        return SecretUse(
            last_used_at=datetime.fromisoformat(item["last_used_at"]),
            last_source_ip=item.get("last_source_ip"),
            uses=int(item.get("uses", 0)),
        )
