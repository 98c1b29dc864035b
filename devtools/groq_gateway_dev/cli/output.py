"""What the admin commands print: aligned tables for people, the API's JSON for scripts.

Example::

    print(table(["ID", "NAME"], [["k1", "chatbot-prod"]]))
    print_json({"id": "k1"})
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


def cell(value: Any) -> str:
    """A value as a table cell: ``-`` for nothing, lists comma-separated."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) if value else "(none)"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) if value else "-"
    return str(value)


def usd(value: float | int | None) -> str:
    """``$12.50``; amounts under a cent keep their micro-dollars (``$0.000123``)."""
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 0.01:
        return f"${value:,.2f}"
    return f"${value:.6f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns, each as wide as its widest cell."""
    cells = [[cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(text)) for width, text in zip(widths, row, strict=True)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def fields(record: dict[str, Any], names: Sequence[str]) -> str:
    """``name: value`` lines for one record."""
    width = max(len(name) for name in names)
    return "\n".join(f"{name.ljust(width)}  {cell(record.get(name))}" for name in names)
