"""Admin key records (``ADMINKEY#<key id>``), written as transaction items that the admin API
commits with their audit entry. See docs/architecture.md#the-table.
"""

from __future__ import annotations

import re
from typing import Any

from groq_gateway.core.records import AdminKey, AdminKeyStatus
from groq_gateway.store.paging import InvalidCursorError, Page, decode_cursor, first_page
from groq_gateway.store.table import Table, to_item

_LISTING_SORT_KEY = re.compile(r"^\S+#(?P<key_id>[a-z0-9]{16})$")


def admin_key_pk(key_id: str) -> str:
    return f"ADMINKEY#{key_id}"


class AdminKeyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put_new(self, key: AdminKey) -> dict[str, Any]:
        """The ``Put`` of a transaction that stores a new admin key (refused if the id exists)."""
        record = key.model_dump(mode="json")
        item = {
            "pk": admin_key_pk(key.key_id),
            "sk": "ADMINKEY",
            "gsi1pk": "ADMINKEYS",
            "gsi1sk": f"{record['created_at']}#{key.key_id}",
            "record_type": "admin_key",
            **record,
        }
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def update(self, before: AdminKey, after: AdminKey) -> dict[str, Any]:
        """The ``Update`` of a transaction that changes status, name or description, if the
        key is still at the version ``before`` was read at."""
        values = {
            ":status": after.status.value,
            ":name": after.name,
            ":description": after.description,
            ":updated_at": after.model_dump(mode="json")["updated_at"],
            ":next": after.version,
            ":expected": before.version,
        }
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": to_item({"pk": admin_key_pk(before.key_id), "sk": "ADMINKEY"}),
                "UpdateExpression": (
                    "SET #status = :status, #name = :name, description = :description, "
                    "updated_at = :updated_at, version = :next"
                ),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeNames": {"#status": "status", "#name": "name"},
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def get(self, key_id: str) -> AdminKey | None:
        """The admin key with this id, read consistently, or ``None``."""
        item = self.table.get(admin_key_pk(key_id), "ADMINKEY")
        return AdminKey.model_validate(item) if item else None

    def list_page(
        self,
        *,
        status: AdminKeyStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[AdminKey]:
        """Admin keys, newest first. Raises :class:`InvalidCursorError` for a foreign cursor."""
        query: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :listing",
            "ExpressionAttributeValues": to_item({":listing": "ADMINKEYS"}),
            "ScanIndexForward": False,
        }
        if status is not None:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"] = to_item(
                {":listing": "ADMINKEYS", ":status": status.value}
            )
        if cursor:
            after = decode_cursor(cursor)
            match = _LISTING_SORT_KEY.fullmatch(after)
            if match is None:
                raise InvalidCursorError("not an admin key cursor")
            start = {"pk": admin_key_pk(match["key_id"]), "sk": "ADMINKEY"}
            query["ExclusiveStartKey"] = to_item(start | {"gsi1pk": "ADMINKEYS", "gsi1sk": after})
        page = first_page(self.table, [query], limit=limit, cursor_of=lambda item: item["gsi1sk"])
        return page.map(AdminKey.model_validate)
