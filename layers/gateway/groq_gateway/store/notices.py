"""Notification markers and the outbox: each gateway event is created once and kept until a run
has published it. See docs/architecture.md#access-patterns.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from groq_gateway.core.event_text import event_subject, format_event_for_email
from groq_gateway.core.events import GatewayEvent
from groq_gateway.core.limits import Scope
from groq_gateway.store.table import ConditionFailedError, Table, to_item

OUTBOX_PK = "OUTBOX"
OUTBOX_RETENTION = timedelta(days=14)
MODELS_PK = "NOTICES#MODELS"
# How long after its billing month a threshold marker is kept (it is only read during it).
MARKER_RETENTION = timedelta(days=62)


class ModelNotice(StrEnum):
    """What a model was notified for, once per model (``NOTICES#MODELS`` items)."""

    RETIRED = "retired"
    UNPRICED = "unpriced"


def budget_notices_pk(month: str) -> str:
    return f"NOTICES#{month}"


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class OutboxEntry:
    sk: str
    kind: str
    event_json: str
    subject: str
    email_text: str


class NoticeStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- budget thresholds ------------------------------------------------------------------

    def notified_thresholds(self, month: str) -> dict[tuple[Scope, str], frozenset[int]]:
        """The thresholds already notified in billing month ``month``, per scope."""
        found: dict[tuple[Scope, str], set[int]] = defaultdict(set)
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :budget)",
            ExpressionAttributeValues=to_item(
                {":pk": budget_notices_pk(month), ":budget": "budget#"}
            ),
            ConsistentRead=True,
        )
        for item in items:
            found[(Scope(item["scope"]), str(item["scope_id"]))].add(int(item["threshold"]))
        return {scope: frozenset(thresholds) for scope, thresholds in found.items()}

    def threshold_marker(
        self,
        month: str,
        scope: Scope,
        scope_id: str,
        threshold: int,
        *,
        at: datetime,
        month_ends_at: datetime,
    ) -> dict[str, Any]:
        """The ``Put`` of a transaction that records a notified threshold (refused if it is
        recorded already)."""
        item = {
            "pk": budget_notices_pk(month),
            "sk": f"budget#{scope.value}#{scope_id}#{threshold:03d}",
            "record_type": "budget_notice",
            "scope": scope.value,
            "scope_id": scope_id,
            "threshold": threshold,
            "notified_at": _timestamp(at),
            "ttl": int((month_ends_at + MARKER_RETENTION).timestamp()),
        }
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    # -- model notices (a model retired, a model used without a price) ------------------------

    def models_notified(self, notice: ModelNotice) -> frozenset[str]:
        """The models already notified for ``notice``."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :notice)",
            ExpressionAttributeValues=to_item({":pk": MODELS_PK, ":notice": f"{notice}#"}),
            ConsistentRead=True,
        )
        return frozenset(str(item["model"]) for item in items)

    def model_marker(self, notice: ModelNotice, model: str, at: datetime) -> dict[str, Any]:
        """The ``Put`` of a transaction that records ``model`` as notified for ``notice``
        (once per model: the transaction fails if another run recorded it first)."""
        item = {
            "pk": MODELS_PK,
            "sk": f"{notice}#{model}",
            "record_type": f"model_{notice}_notice",
            "model": model,
            "notified_at": _timestamp(at),
        }
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    # -- outbox -----------------------------------------------------------------------------

    def outbox_put(self, event: GatewayEvent, at: datetime) -> dict[str, Any]:
        """The ``Put`` of a transaction that queues ``event`` for publishing, with its e-mail
        subject and text."""
        item = {
            "pk": OUTBOX_PK,
            "sk": f"{_timestamp(at)}#{uuid.uuid4().hex}",
            "record_type": "outbox",
            "kind": event.kind,
            "event": event.model_dump_json(),
            "subject": event_subject(event),
            "email_text": format_event_for_email(event),
            "ttl": int((at + OUTBOX_RETENTION).timestamp()),
        }
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def commit(self, writes: list[dict[str, Any]]) -> None:
        """Write transaction items (markers and outbox entries) together, or none of them.

        Raises :class:`ConditionFailedError` when a marker is already there.
        """
        self.table.call("transact_write_items", TransactItems=writes)

    def pending(self) -> list[OutboxEntry]:
        """The outbox, oldest first."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": OUTBOX_PK}),
            ConsistentRead=True,
        )
        return [
            OutboxEntry(
                sk=str(item["sk"]),
                kind=str(item["kind"]),
                event_json=str(item["event"]),
                subject=str(item["subject"]),
                email_text=str(item["email_text"]),
            )
            for item in items
        ]

    def claim(self, entry: OutboxEntry, now: datetime, lease: timedelta) -> bool:
        """Take ``entry`` for publishing until ``now + lease``; ``False`` if another run holds
        it (or published it already)."""
        try:
            self.table.call(
                "update_item",
                Key=to_item({"pk": OUTBOX_PK, "sk": entry.sk}),
                UpdateExpression="SET claimed_until = :until",
                ConditionExpression=(
                    "attribute_exists(pk) AND "
                    "(attribute_not_exists(claimed_until) OR claimed_until < :now)"
                ),
                ExpressionAttributeValues=to_item(
                    {":until": int((now + lease).timestamp()), ":now": int(now.timestamp())}
                ),
            )
        except ConditionFailedError:
            return False
        return True

    def release(self, entry: OutboxEntry) -> None:
        """Give a claimed entry back (publishing failed), so the next run retries it at once."""
        try:
            self.table.call(
                "update_item",
                Key=to_item({"pk": OUTBOX_PK, "sk": entry.sk}),
                UpdateExpression="REMOVE claimed_until",
                ConditionExpression="attribute_exists(pk)",
            )
        except ConditionFailedError:
            return  # gone meanwhile: nothing to give back

    def delete(self, entry: OutboxEntry) -> None:
        """Remove a published entry."""
        self.table.call("delete_item", Key=to_item({"pk": OUTBOX_PK, "sk": entry.sk}))
