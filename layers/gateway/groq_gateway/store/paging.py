"""Pages of query results with an opaque cursor: how every admin list is paginated.
See docs/architecture.md#access-patterns.

Example::

    page = first_page(table, [query], limit=20, cursor_of=lambda item: item["gsi1sk"])
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from groq_gateway.store.table import Table

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE_SIZE = 100
# Items DynamoDB evaluates per call when a filter may drop most of them.
FILTERED_READ_SIZE = 200


class InvalidCursorError(ValueError):
    """A cursor that this gateway did not hand out (or that belongs to another list)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next page (``None`` on the last page)."""

    items: list[T]
    next_cursor: str | None

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page([convert(item) for item in self.items], self.next_cursor)


def encode_cursor(sort_value: str) -> str:
    raw = json.dumps({"after": sort_value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort value inside a cursor; :class:`InvalidCursorError` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursorError("not a cursor") from error
    if not isinstance(value, dict) or set(value) != {"after"}:
        raise InvalidCursorError("not a cursor")
    after = value["after"]
    if not isinstance(after, str) or not after:
        raise InvalidCursorError("not a cursor")
    return after


def first_page(
    table: Table,
    queries: Iterable[dict[str, Any]],
    *,
    limit: int,
    cursor_of: Callable[[dict[str, Any]], str],
) -> Page[dict[str, Any]]:
    """Up to ``limit`` items from ``queries``, run one after the other (lazily: a query runs
    only while the page is not full)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    wanted = limit + 1
    items: list[dict[str, Any]] = []
    for query in queries:
        read_size = FILTERED_READ_SIZE if "FilterExpression" in query else wanted
        pages = table.query_pages(**query, Limit=read_size)
        for item in pages:
            items.append(item)
            if len(items) == wanted:
                pages.close()
                break
        if len(items) == wanted:
            break
    if len(items) <= limit:
        return Page(items, None)
    return Page(items[:limit], encode_cursor(cursor_of(items[limit - 1])))
