"""Files and batches a key owns, in the key's partition (``KEY#<id>`` / ``FILE#<file id>`` and
``BATCH#<batch id>``), and a batch's settlement: its real use metered and the rest of its
reservation given back in one transaction, once. See docs/architecture.md#batches-and-files.

Example::

    store.batches.settle(batch, metered, status="completed", at=now)  # False: already done
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from groq_gateway.core.batches import BatchRecord, BatchState, FileRecord, MeteredModel
from groq_gateway.store.counter_keys import counter_home, item_key
from groq_gateway.store.counters import spend_settlement
from groq_gateway.store.keys import key_pk
from groq_gateway.store.paging import InvalidCursorError, Page, decode_cursor, first_page
from groq_gateway.store.table import (
    ConditionFailedError,
    StoreUnavailableError,
    Table,
    to_item,
)
from groq_gateway.store.usage import usage_update

FILES_PK = "FILES"  # gsi1: every file, newest first
OPEN_BATCHES_PK = "BATCHES#OPEN"  # gsi1: batches whose end is not metered yet
METERED_BATCHES_PK = "BATCHES#METERED"  # gsi1: the others
MAX_CONFLICT_RETRIES = 8
FORGOTTEN_FILE_TTL = timedelta(days=1)


def file_sk(file_id: str) -> str:
    return f"FILE#{file_id}"


def batch_sk(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


def _state_pk(state: BatchState) -> str:
    return OPEN_BATCHES_PK if state is BatchState.OPEN else METERED_BATCHES_PK


def _file_item(record: FileRecord) -> dict[str, Any]:
    values = record.model_dump(mode="json", exclude={"batch_input"})
    if record.batch_input is not None:
        values["batch_input"] = record.batch_input.model_dump_json()
    return {
        **values,
        "pk": key_pk(record.key_id),
        "sk": file_sk(record.file_id),
        "record_type": "file",
        "gsi1pk": FILES_PK,
        "gsi1sk": f"{values['created_at']}#{record.file_id}",
    }


def _file_of(item: dict[str, Any]) -> FileRecord:
    raw = item.get("batch_input")
    return FileRecord.model_validate(
        {**item, "batch_input": None if raw is None else json.loads(raw)}
    )


def _batch_item(record: BatchRecord) -> dict[str, Any]:
    values = record.model_dump(mode="json")
    values["reservations"] = [asdict(r) for r in record.reservations]
    return {
        **values,
        "pk": key_pk(record.key_id),
        "sk": batch_sk(record.batch_id),
        "record_type": "batch",
        "gsi1pk": _state_pk(record.state),
        "gsi1sk": f"{values['created_at']}#{record.batch_id}",
    }


def _batch_of(item: dict[str, Any]) -> BatchRecord:
    return BatchRecord.model_validate(item)


class BatchStore:
    def __init__(self, table: Table, sleep: Any = time.sleep) -> None:
        self.table = table
        self._sleep = sleep

    # -- files -------------------------------------------------------------------------------

    def record_file(self, record: FileRecord) -> None:
        self.table.call("put_item", Item=to_item(_file_item(record)))

    def file(self, key_id: str, file_id: str) -> FileRecord | None:
        """The key's file, or ``None`` when the key does not own it (one consistent read)."""
        item = self.table.get(key_pk(key_id), file_sk(file_id))
        return None if item is None or "deleted_at" in item else _file_of(item)

    def forget_file(self, key_id: str, file_id: str, at: datetime) -> None:
        """A file deleted at Groq: no longer the key's, and gone from the table a day later
        (marked, not deleted, so that the proxy deletes nothing outside the organisation's
        partition)."""
        expires = int((at + FORGOTTEN_FILE_TTL).timestamp())
        self.table.call(
            "update_item",
            Key=item_key(key_pk(key_id), file_sk(file_id)),
            UpdateExpression="SET deleted_at = :at, #ttl = :ttl REMOVE gsi1pk, gsi1sk",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=to_item({":at": at.isoformat(), ":ttl": expires}),
        )

    def file_ids(self, key_id: str) -> set[str]:
        """Every file id the key owns (one query of its partition)."""
        items = self._owned(key_id, "FILE#", "file_id, deleted_at")
        return {item["file_id"] for item in items if "deleted_at" not in item}

    # -- batches -----------------------------------------------------------------------------

    def record_batch(self, record: BatchRecord) -> None:
        self.table.call(
            "put_item",
            Item=to_item(_batch_item(record)),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def batch(self, key_id: str, batch_id: str) -> BatchRecord | None:
        """The key's batch, or ``None`` when the key does not own it (one consistent read)."""
        item = self.table.get(key_pk(key_id), batch_sk(batch_id))
        return None if item is None else _batch_of(item)

    def batches_of(self, key_id: str) -> dict[str, BatchRecord]:
        """Every batch the key owns, by id (one query of its partition)."""
        items = self._owned(key_id, "BATCH#", None)
        return {record.batch_id: record for record in map(_batch_of, items)}

    def open_batches(self) -> Iterator[BatchRecord]:
        """Batches whose end is not metered yet, oldest first."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_item({":pk": OPEN_BATCHES_PK}),
        )
        for item in items:
            yield _batch_of(item)

    def record_result_files(
        self,
        batch: BatchRecord,
        *,
        status: str,
        output: FileRecord | None,
        error: FileRecord | None,
    ) -> None:
        """The batch's output and error files, now the key's own, with the batch's status
        (one transaction; repeating it changes nothing)."""
        values: dict[str, Any] = {":status": status}
        sets = ["#status = :status"]
        for field, record in (("output_file_id", output), ("error_file_id", error)):
            if record is not None:
                values[f":{field}"] = record.file_id
                sets.append(f"{field} = :{field}")
        update = {
            "TableName": self.table.name,
            "Key": item_key(key_pk(batch.key_id), batch_sk(batch.batch_id)),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values),
        }
        puts = [
            {"Put": {"TableName": self.table.name, "Item": to_item(_file_item(record))}}
            for record in (output, error)
            if record is not None
        ]
        self._transact([{"Update": update}, *puts])

    def settle(
        self,
        batch: BatchRecord,
        metered: Sequence[MeteredModel],
        *,
        status: str,
        at: datetime,
    ) -> bool:
        """Meter the batch's real use and give back the rest of its reservation, in one
        transaction that requires the batch to be still open: ``False`` when someone else
        settled it first (nothing is written then)."""
        actual = sum(model.record.cost_micros for model in metered)
        lines = sum(model.lines for model in metered)
        batch_update = {
            "TableName": self.table.name,
            "Key": item_key(key_pk(batch.key_id), batch_sk(batch.batch_id)),
            "UpdateExpression": (
                "SET #state = :metered, #status = :status, metered_at = :at, "
                "cost_micros = :cost, lines_metered = :lines, gsi1pk = :done"
            ),
            "ConditionExpression": "#state = :open",
            "ExpressionAttributeNames": {"#state": "state", "#status": "status"},
            "ExpressionAttributeValues": to_item(
                {
                    ":metered": BatchState.METERED.value,
                    ":open": BatchState.OPEN.value,
                    ":status": status,
                    ":at": at.isoformat(),
                    ":cost": actual,
                    ":lines": lines,
                    ":done": METERED_BATCHES_PK,
                }
            ),
        }
        items: list[dict[str, Any]] = [{"Update": batch_update}]
        home = counter_home(batch.key_id, batch.team_id)
        for _, update in spend_settlement(self.table, home, batch.reservations, actual):
            items.append({"Update": update})
        for model in metered:
            items.append({"Update": usage_update(self.table, model.record, requests=model.lines)})
        try:
            self._transact(items)
        except ConditionFailedError:
            return False
        return True

    # -- the admin's lists -------------------------------------------------------------------

    def files_page(self, *, limit: int, cursor: str | None) -> Page[FileRecord]:
        """Every file, newest first."""
        after = None if cursor is None else decode_cursor(cursor)
        if after is not None and "#" not in after:
            raise InvalidCursorError("not a file list cursor")
        page = first_page(
            self.table,
            [self._index_query(FILES_PK, after)],
            limit=limit,
            cursor_of=lambda item: item["gsi1sk"],
        )
        return page.map(_file_of)

    def batches_page(
        self, *, state: BatchState | None, limit: int, cursor: str | None
    ) -> Page[BatchRecord]:
        """Every batch (or those in ``state``), open ones first, each state newest first."""
        states = [state] if state else [BatchState.OPEN, BatchState.METERED]
        after_state, after = None, None
        if cursor:
            raw = decode_cursor(cursor)
            name, _, after = raw.partition("|")
            if name not in {s.value for s in states} or not after:
                raise InvalidCursorError("not a batch list cursor")
            after_state = BatchState(name)
        if after_state is not None:
            states = states[states.index(after_state) :]
        queries = (
            self._index_query(_state_pk(s), after if s is after_state else None) for s in states
        )
        page = first_page(
            self.table,
            queries,
            limit=limit,
            cursor_of=lambda item: f"{item['state']}|{item['gsi1sk']}",
        )
        return page.map(_batch_of)

    # -- helpers -----------------------------------------------------------------------------

    def _index_query(self, partition: str, after: str | None) -> dict[str, Any]:
        values: dict[str, Any] = {":pk": partition}
        condition = "gsi1pk = :pk"
        if after is not None:
            condition += " AND gsi1sk < :after"
            values[":after"] = after
        return {
            "IndexName": "gsi1",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "ScanIndexForward": False,
        }

    def _owned(self, key_id: str, prefix: str, attribute: str | None) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": key_pk(key_id), ":prefix": prefix}),
        }
        if attribute is not None:
            query["ProjectionExpression"] = attribute
        items: Iterator[dict[str, Any]] = self.table.query_pages(**query)
        return items

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """One transaction, retried with jittered backoff when it met another one."""
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            try:
                self.table.call("transact_write_items", TransactItems=items)
                return
            except StoreUnavailableError as error:
                if not error.conflict or attempt == MAX_CONFLICT_RETRIES:
                    raise
                self._sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311
