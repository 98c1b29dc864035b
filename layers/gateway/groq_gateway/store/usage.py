"""Metering items: what each key used of each model per UTC day, written in the proxy's
settlement (one `UpdateItem`, sent at most once). See docs/architecture.md#the-table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from groq_gateway.core.periods import day_of
from groq_gateway.core.records import DailyUsage, UsageRecord
from groq_gateway.store.keys import key_pk
from groq_gateway.store.table import Table, to_item

RETENTION_DAYS = 400


def usage_update(table: Table, record: UsageRecord, *, requests: int = 1) -> dict[str, Any]:
    """The ``Update`` of a transaction that adds ``record`` to its day's item, as ``requests``
    requests (a batch's lines for one model are metered in one record)."""
    day = day_of(record.at)
    expires = int((record.at + timedelta(days=RETENTION_DAYS)).timestamp())
    names = {"#ttl": "ttl"}
    values: dict[str, Any] = {
        ":key": record.key_id,
        ":model": record.model,
        ":day": day,
        ":ttl": expires,
        ":requests": requests,
        ":prompt": record.prompt_tokens,
        ":completion": record.completion_tokens,
        ":audio": record.audio_seconds,
        ":cost": record.cost_micros,
        ":estimated": requests if record.estimated else 0,
        ":unpriced": requests if record.unpriced else 0,
    }
    sets = "key_id = :key, model = :model, #day = :day, #ttl = if_not_exists(#ttl, :ttl)"
    names["#day"] = "day"
    if record.team_id:
        # Not in gsi1: an indexed item costs a second write unit on every update.
        sets += ", team_id = :team"
        values[":team"] = record.team_id
    return {
        "TableName": table.name,
        "Key": to_item({"pk": key_pk(record.key_id), "sk": f"USE#{day}#{record.model}"}),
        "UpdateExpression": (
            f"SET {sets} ADD requests :requests, prompt_tokens :prompt, "
            "completion_tokens :completion, audio_seconds :audio, cost_micros :cost, "
            "estimated_requests :estimated, unpriced_requests :unpriced"
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item(values),
    }


class UsageStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def for_key(self, key_id: str, first_day: str, last_day: str) -> Iterator[DailyUsage]:
        """A key's daily usage from ``first_day`` to ``last_day`` (inclusive, YYYY-MM-DD)."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues=to_item(
                {":pk": key_pk(key_id), ":first": f"USE#{first_day}", ":last": f"USE#{last_day}$"}
            ),
        )
        for item in items:
            yield DailyUsage.model_validate(item)
