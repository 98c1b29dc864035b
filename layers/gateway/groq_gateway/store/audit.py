"""The audit log (``AUDIT#<YYYY-MM>``): every admin change is committed in one transaction
with its entry; read newest first, page by page, each page doing bounded work. See
docs/architecture.md#access-patterns.

Example::

    store.audit.commit(entry, [store.teams.put_new(team)])
"""

from __future__ import annotations

import json
import re
from calendar import monthrange
from collections.abc import Collection, Iterator
from datetime import date
from typing import Any

from groq_gateway.core.records import AuditEntry
from groq_gateway.store.paging import (
    FILTERED_READ_SIZE,
    MAX_PAGE_SIZE,
    InvalidCursorError,
    Page,
    decode_cursor,
    encode_cursor,
)
from groq_gateway.store.table import Table, from_item, to_item

# A transaction holds at most 100 items; an admin change needs a handful.
MAX_CHANGES = 99
# The DynamoDB queries one page may make (each reads at most FILTERED_READ_SIZE items): a long
# window of empty months, or a filter that matches little, is answered in several pages, each
# with a cursor where it stopped (possibly with fewer entries than asked for, even none).
MAX_QUERIES_PER_PAGE = 12
# An entry id is a uuid4's hex, never all f's (its version digit is 4): the sort key
# "<day>T23:59:59.999999Z#fff…" is above every entry of that day and names none.
_ABOVE_EVERY_ID = "f" * 32

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


def _above_month(month: str) -> str:
    """A cursor position above every entry of ``month`` (YYYY-MM): a page that resumes there
    reads that month whole."""
    year, number = int(month[:4]), int(month[5:7])
    last = date(year, number, monthrange(year, number)[1])
    return f"{last.isoformat()}T23:59:59.999999Z#{_ABOVE_EVERY_ID}"


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
        team_ids: Collection[str] | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """Entries from ``first_day`` to ``last_day`` (UTC, inclusive), newest first; with
        ``team_ids``, only those that concern one of these teams (``AuditEntry.team_ids``).

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
        if team_ids is not None:
            wanted = sorted(team_ids) or [""]  # no team: a filter nothing matches
            values.update({f":team{i}": team for i, team in enumerate(wanted)})
            any_team = " OR ".join(f"contains(team_ids, :team{i})" for i in range(len(wanted)))
            filters.append(f"({any_team})")

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

        partitions: list[tuple[str | None, dict[str, Any]]]  # (month, its query)
        if actor_id is not None:
            # One admin's entries: one partition of the index, across months.
            partition = f"AUDITBY#{actor_id}"
            start = None
            if after is not None:
                start = {"pk": audit_pk(after[:7]), "sk": after, "gsi1pk": partition}
                start["gsi1sk"] = after
            partitions = [(None, query(partition, start))]
        else:
            # Every entry: one partition per month, newest month first, resuming the cursor's.
            last = last_day if after is None else min(last_day, date.fromisoformat(after[:10]))
            partitions = [
                (
                    month,
                    query(
                        audit_pk(month),
                        {"pk": audit_pk(month), "sk": after}
                        if after is not None and after[:7] == month
                        else None,
                    ),
                )
                for month in _months_newest_first(first_day, last)
            ]
        return self._bounded_page(partitions, limit=limit).map(_entry_of)

    def _bounded_page(
        self, partitions: list[tuple[str | None, dict[str, Any]]], *, limit: int
    ) -> Page[dict[str, Any]]:
        """Up to ``limit`` items from ``partitions``' queries, run in order while the page is
        not full, in at most :data:`MAX_QUERIES_PER_PAGE` calls; a page cut short by that
        bound carries a cursor to where its reading stopped."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        wanted = limit + 1
        items: list[dict[str, Any]] = []
        calls = 0
        for month, kwargs in partitions:
            read_size = FILTERED_READ_SIZE if "FilterExpression" in kwargs else wanted
            while True:
                if calls == MAX_QUERIES_PER_PAGE:
                    return Page(items[:limit], encode_cursor(_resume_at(kwargs, month)))
                page = self.table.call("query", **kwargs, Limit=read_size)
                calls += 1
                for raw in page.get("Items", []):
                    items.append(from_item(raw))
                    if len(items) == wanted:
                        return Page(items[:limit], encode_cursor(items[limit - 1]["sk"]))
                evaluated = page.get("LastEvaluatedKey")
                if not evaluated:
                    break
                kwargs = {**kwargs, "ExclusiveStartKey": evaluated}
        return Page(items, None)


def _resume_at(kwargs: dict[str, Any], month: str | None) -> str:
    """Where a page stopped before running ``kwargs``' query: its start key, else above
    every entry of its month."""
    start = kwargs.get("ExclusiveStartKey")
    if start is not None:
        sort_key: str = from_item(start)["sk"]
        return sort_key
    assert month is not None, "the index's single query always runs first"
    return _above_month(month)


def _entry_of(item: dict[str, Any]) -> AuditEntry:
    before, after = item.get("before"), item.get("after")
    return AuditEntry.model_validate(
        {
            **item,
            "before": None if before is None else json.loads(before),
            "after": None if after is None else json.loads(after),
        }
    )
