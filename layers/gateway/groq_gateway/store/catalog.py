"""The model catalogue as last polled from Groq: one item, ``CATALOG`` / ``MODELS``."""

from __future__ import annotations

from datetime import datetime

from groq_gateway.store.table import Table, to_item


class CatalogStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put(self, models: list[str], now: datetime) -> None:
        item = {
            "pk": "CATALOG",
            "sk": "MODELS",
            "record_type": "model_catalog",
            "models": models,
            "updated_at": now.isoformat(),
        }
        self.table.call("put_item", Item=to_item(item))

    def get(self) -> list[str] | None:
        item = self.table.get("CATALOG", "MODELS", consistent=False)
        return [str(model) for model in item["models"]] if item else None
