"""The audit log (``AUDIT#<YYYY-MM>``): every admin change is committed in one transaction
with its entry. See docs/architecture.md#access-patterns.

Example::

    store.audit.commit(entry, [store.teams.put_new(team)])
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from groq_gateway.core.records import AuditEntry
from groq_gateway.store.paging import InvalidCursorError, Page, decode_cursor, first_page
from groq_gateway.store.table import Table, to_item

# A transaction holds at most 100 items; an admin change needs a handful.
MAX_CHANGES = 99

_SORT_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[0-9a-f]{32}$")


def audit_pk(month: str) -> str:
    return f"AUDIT#{month}"


def audit_sort_key(entry: AuditEntry) -> str:
    """Fixed width, so that string order is time order."""
    return f"{entry.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry.entry_id}"


def _months_newest_first(first_day: date, last_day: date) -> Iterator[str]:
    year, month = last_day.year, last_day.month
    while (year, month) >= (first_day.year, first_day.month):
        yield f"{year:04d}-{month:02d}"
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)


class AuditStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, entry: AuditEntry) -> dict[str, Any]:
        """The ``Put`` of a transaction that writes ``entry``."""
        sort_key = audit_sort_key(entry)
        record = entry.model_dump(mode="json", exclude={"before", "after"})
        item = {
            "pk": audit_pk(sort_key[:7]),
            "sk": sort_key,
            "gsi1pk": f"AUDITBY#{entry.actor_id}",
            "gsi1sk": sort_key,
            "record_type": "audit",
            **record,
            "before": None if entry.before is None else json.dumps(entry.before),
            "after": None if entry.after is None else json.dumps(entry.after),
        }
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def commit(self, entry: AuditEntry, changes: list[dict[str, Any]]) -> None:
        """Write ``changes`` (transaction items) and ``entry`` atomically.

        Raises :class:`ConditionFailedError` (its ``failed_index()`` points into ``changes``)
        when a change's condition does not hold; then nothing is written.
        """
        if not 1 <= len(changes) <= MAX_CHANGES:
            raise ValueError(f"an audited change has 1 to {MAX_CHANGES} writes")
        self.table.call("transact_write_items", TransactItems=[*changes, self.put(entry)])

    def list_page(
        self,
        *,
        first_day: date,
        last_day: date,
        actor_id: str | None = None,
        action: str | None = None,
        target_id: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """Entries from ``first_day`` to ``last_day`` (UTC, inclusive), newest first.

        Raises :class:`InvalidCursorError` for a cursor this list did not hand out.
        """
        after = decode_cursor(cursor) if cursor else None
        if after is not None and not _SORT_KEY.fullmatch(after):
            raise InvalidCursorError("not an audit log cursor")
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":low": f"{first_day.isoformat()}T",
            ":high": f"{last_day.isoformat()}T~",
        }
        filters = []
        if action is not None:
            filters.append("#action = :action")
            names["#action"] = "action"
            values[":action"] = action
        if target_id is not None:
            filters.append("target_id = :target")
            values[":target"] = target_id

        def query(partition: str, start: dict[str, Any] | None) -> dict[str, Any]:
            on_actor = actor_id is not None
            pk, sk = ("gsi1pk", "gsi1sk") if on_actor else ("pk", "sk")
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": f"{pk} = :partition AND {sk} BETWEEN :low AND :high",
                "ExpressionAttributeValues": to_item({**values, ":partition": partition}),
                "ScanIndexForward": False,
            }
            if on_actor:
                kwargs["IndexName"] = "gsi1"
            if filters:
                kwargs["FilterExpression"] = " AND ".join(filters)
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if start is not None:
                kwargs["ExclusiveStartKey"] = to_item(start)
            return kwargs

        queries: Iterator[dict[str, Any]]
        if actor_id is not None:
            # One admin's entries: one partition of the index, across months.
            partition = f"AUDITBY#{actor_id}"
            start = None
            if after is not None:
                start = {"pk": audit_pk(after[:7]), "sk": after, "gsi1pk": partition}
                start["gsi1sk"] = after
            queries = iter([query(partition, start)])
        else:
            # Every entry: one partition per month, newest month first, resuming the cursor's.
            last = last_day if after is None else min(last_day, date.fromisoformat(after[:10]))
            queries = (
                query(
                    audit_pk(month),
                    {"pk": audit_pk(month), "sk": after}
                    if after is not None and after[:7] == month
                    else None,
                )
                for month in _months_newest_first(first_day, last)
            )
        page = first_page(self.table, queries, limit=limit, cursor_of=lambda item: item["sk"])
        return page.map(_entry_of)


def _entry_of(item: dict[str, Any]) -> AuditEntry:
    before, after = item.get("before"), item.get("after")
    return AuditEntry.model_validate(
        {
            **item,
            "before": None if before is None else json.loads(before),
            "after": None if after is None else json.loads(after),
        }
    )
