"""Usage rollup items (``ROLLUP#<scope>#<id>``): each write a complete ``PutItem`` that an
older reading never overwrites. See docs/architecture.md#the-table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from groq_gateway.core.records import UsageCounts
from groq_gateway.core.rollups import (
    ORG_ID,
    Period,
    PeriodKind,
    RollupKey,
    RollupScope,
    month_period,
)
from groq_gateway.store.table import ConditionFailedError, Table, to_item
from groq_gateway.store.usage import RETENTION_DAYS

_TOTAL_FIELDS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cost_micros",
    "estimated_requests",
    "unpriced_requests",
)


@dataclass(frozen=True)
class StoredRollup:
    key: RollupKey
    totals: UsageCounts
    computed_at: str
    complete: bool = False


def rollup_pk(scope: RollupScope, scope_id: str) -> str:
    return f"ROLLUP#{scope.value}#{scope_id}"


def rollup_sk(period: Period) -> str:
    return f"{period.kind.value.upper()}#{period.label}"


def period_listing(period: Period) -> str:
    return f"ROLLUPS#{rollup_sk(period)}"


def computed_at_text(at: datetime) -> str:
    """Fixed width and UTC, so that string order is time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day_expiry(day: str) -> int:
    end_of_day = datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC) + timedelta(days=1)
    return int((end_of_day + timedelta(days=RETENTION_DAYS)).timestamp())


def _stored(item: dict[str, Any]) -> StoredRollup:
    kind = PeriodKind(item["period_kind"])
    key = RollupKey(RollupScope(item["scope"]), item["scope_id"], Period(kind, item["period"]))
    totals = UsageCounts(
        **{field: int(item.get(field, 0)) for field in _TOTAL_FIELDS},
        audio_seconds=Decimal(item.get("audio_seconds", 0)),
    )
    return StoredRollup(key, totals, str(item["computed_at"]), bool(item.get("complete", False)))


class RollupStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def for_period(
        self, period: Period, scope: RollupScope | None = None
    ) -> Iterator[StoredRollup]:
        """Every stored rollup of one period (optionally of one scope), from the index (so
        possibly a few seconds behind the latest write)."""
        condition = "gsi1pk = :listing"
        values: dict[str, Any] = {":listing": period_listing(period)}
        if scope is not None:
            condition += " AND begins_with(gsi1sk, :scope)"
            values[":scope"] = f"{scope.value}#"
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            IndexName="gsi1",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
        )
        for item in items:
            yield _stored(item)

    def get(self, key: RollupKey) -> StoredRollup | None:
        item = self.table.get(rollup_pk(key.scope, key.scope_id), rollup_sk(key.period))
        return _stored(item) if item else None

    def is_month_complete(self, month: str) -> bool:
        """Whether a run closed ``month`` (its org rollup is marked ``complete``)."""
        stored = self.get(RollupKey(RollupScope.ORG, ORG_ID, month_period(month)))
        return stored is not None and stored.complete

    def put(
        self,
        key: RollupKey,
        totals: UsageCounts,
        computed_at: datetime,
        *,
        complete: bool = False,
    ) -> bool:
        """Store the rollup, unless the stored one was computed later; whether it was written.

        ``computed_at`` is when the metering items it sums were read.
        """
        item: dict[str, Any] = {
            "pk": rollup_pk(key.scope, key.scope_id),
            "sk": rollup_sk(key.period),
            "gsi1pk": period_listing(key.period),
            "gsi1sk": f"{key.scope.value}#{key.scope_id}",
            "record_type": "rollup",
            "scope": key.scope.value,
            "scope_id": key.scope_id,
            "period_kind": key.period.kind.value,
            "period": key.period.label,
            **{field: getattr(totals, field) for field in _TOTAL_FIELDS},
            "audio_seconds": totals.audio_seconds,
            "computed_at": computed_at_text(computed_at),
        }
        if key.period.kind is PeriodKind.DAY:
            item["ttl"] = _day_expiry(key.period.label)
        elif complete:
            item["complete"] = True
        try:
            self.table.call(
                "put_item",
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR computed_at <= :computed_at",
                ExpressionAttributeValues=to_item({":computed_at": item["computed_at"]}),
            )
        except ConditionFailedError:
            return False
        return True
