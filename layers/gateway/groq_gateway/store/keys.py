"""Gateway key records (``KEY#<key id>``): the admin API's writes are transaction items committed
with their audit entry; the rotation function changes a status with :meth:`KeyStore.set_status`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from groq_gateway.core.records import GatewayKey, KeyStatus
from groq_gateway.store.paging import InvalidCursorError, Page, decode_cursor, first_page
from groq_gateway.store.table import Table, to_item
from groq_gateway.store.updates import versioned_update

_LISTING_SORT_KEY = re.compile(r"^\S+#(?P<key_id>[a-z0-9]{16})$")


def key_pk(key_id: str) -> str:
    return f"KEY#{key_id}"


def _key_item(key: GatewayKey) -> dict[str, Any]:
    record = key.model_dump(mode="json")
    return {
        "pk": key_pk(key.key_id),
        "sk": "KEY",
        "gsi1pk": "KEYS",
        "gsi1sk": f"{record['created_at']}#{key.key_id}",
        "record_type": "key",
        **record,
    }


class KeyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, key: GatewayKey) -> None:
        """Store a new key; :class:`ConditionFailedError` if the id is taken."""
        self.table.call(
            "put_item",
            Item=to_item(_key_item(key)),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def put_new(self, key: GatewayKey) -> dict[str, Any]:
        """The ``Put`` of a transaction that stores a new key (refused if the id is taken)."""
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(_key_item(key)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def update(self, before: GatewayKey, after: GatewayKey) -> dict[str, Any]:
        """The ``Update`` of a transaction that writes the fields in which ``after`` differs
        from ``before``, if nobody changed the key since ``before`` was read.

        ``after`` must carry ``before.version + 1``.
        """
        if after.key_id != before.key_id:
            raise ValueError("an update keeps the key id")
        return versioned_update(
            self.table,
            {"pk": key_pk(before.key_id), "sk": "KEY"},
            before.model_dump(mode="json"),
            after.model_dump(mode="json"),
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

    def list_page(
        self,
        *,
        team_id: str | None = None,
        status: KeyStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
        team_ids: Collection[str] | None = None,
    ) -> Page[GatewayKey]:
        """Keys, newest first, optionally only a team's (or one of ``team_ids``') or only
        those in one status.

        Raises :class:`InvalidCursorError` for a cursor this list did not hand out.
        """
        values: dict[str, Any] = {":listing": "KEYS"}
        names: dict[str, str] = {}
        filters = []
        if team_id is not None:
            filters.append("team_id = :team")
            values[":team"] = team_id
        if team_ids is not None:
            wanted = sorted(team_ids) or [""]  # no team: a filter nothing matches
            values.update({f":team{i}": team for i, team in enumerate(wanted)})
            listed = ", ".join(f":team{i}" for i in range(len(wanted)))
            filters.append(f"team_id IN ({listed})")
        if status is not None:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = status.value
        query: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :listing",
            "ExpressionAttributeValues": to_item(values),
            "ScanIndexForward": False,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
        if names:
            query["ExpressionAttributeNames"] = names
        if cursor:
            after = decode_cursor(cursor)
            match = _LISTING_SORT_KEY.fullmatch(after)
            if match is None:
                raise InvalidCursorError("not a key cursor")
            start = {"pk": key_pk(match["key_id"]), "sk": "KEY", "gsi1pk": "KEYS"}
            query["ExclusiveStartKey"] = to_item(start | {"gsi1sk": after})
        page = first_page(self.table, [query], limit=limit, cursor_of=lambda item: item["gsi1sk"])
        return page.map(GatewayKey.model_validate)

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
