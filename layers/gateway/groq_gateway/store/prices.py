"""Operator prices: one item per model an operator priced at run time (``PRICES`` /
``MODEL#<model>``), layered over the shipped and deployment prices by every function that
prices a request. See docs/operations.md#setting-a-price.

Example::

    store.prices.all()  # {"canopylabs/orpheus-v1-english": OperatorPrice(...)}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from groq_gateway.core.pricing import ModelPrice, OperatorPrice
from groq_gateway.store.table import Table, to_item

PRICES_PK = "PRICES"


def _price_sk(model: str) -> str:
    return f"MODEL#{model}"


def _operator_price(item: dict[str, Any]) -> OperatorPrice:
    return OperatorPrice(
        model=str(item["model"]),
        price=ModelPrice.model_validate(item["price"]),
        updated_at=item["updated_at"],
        updated_by=str(item["updated_by"]),
    )


class PriceStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def all(self, *, consistent: bool = False) -> dict[str, OperatorPrice]:
        """Every operator price by model: one query (a page holds about 4,000 prices)."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": PRICES_PK}),
            ConsistentRead=consistent,
        )
        prices = (_operator_price(item) for item in items)
        return {price.model: price for price in prices}

    def get(self, model: str) -> OperatorPrice | None:
        item = self.table.get(PRICES_PK, _price_sk(model))
        return _operator_price(item) if item else None

    def put(self, price: OperatorPrice, *, replacing: OperatorPrice | None) -> dict[str, Any]:
        """The ``Put`` of a transaction that sets a model's operator price, if the model's
        price is still ``replacing`` (None: it had none)."""
        item = {
            "pk": PRICES_PK,
            "sk": _price_sk(price.model),
            "record_type": "operator_price",
            "model": price.model,
            # Decimal strings, exactly as given (a map of strings, never floats).
            "price": price.price.model_dump(mode="json", exclude_none=True),
            "updated_at": price.updated_at.isoformat(),
            "updated_by": price.updated_by,
        }
        return {
            "Put": {"TableName": self.table.name, "Item": to_item(item), **_unchanged(replacing)}
        }

    def delete(self, price: OperatorPrice) -> dict[str, Any]:
        """The ``Delete`` of a transaction that removes a model's operator price, if it is
        still ``price``."""
        return {
            "Delete": {
                "TableName": self.table.name,
                "Key": to_item({"pk": PRICES_PK, "sk": _price_sk(price.model)}),
                **_unchanged(price),
            }
        }


def _unchanged(price: OperatorPrice | None) -> dict[str, Any]:
    """The condition that a model's stored price is still ``price`` (None: none stored)."""
    if price is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "updated_at = :read",
        "ExpressionAttributeValues": to_item({":read": price.updated_at.isoformat()}),
    }
