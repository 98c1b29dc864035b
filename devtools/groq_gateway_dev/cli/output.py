"""What the admin commands print: aligned tables for people, the API's JSON for scripts.

Whatever the server sent is shown, never acted on: control and format characters (escape
sequences, carriage returns, bidirectional overrides, zero-width characters) are printed as
Python-style escapes (``\\x1b``), whether a record predates the admin API's refusal of them
or the server is hostile. Every line goes out through :func:`say`; JSON is ASCII-escaped.

Example::

    say(table(["ID", "NAME"], [["k1", "chatbot-prod"]]))
    print_json({"id": "k1"})
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

# Controls, format characters, surrogates, line and paragraph separators, private-use and
# unassigned code points: a terminal may act on them or show nothing.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"})


_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, *, keep: str = "") -> str:
    """``text`` with every character a terminal would act on or hide escaped (but those in
    ``keep``).

    Example::

        printable("a\\x1b[2Jb")  # 'a\\\\x1b[2Jb'
    """
    return "".join(
        char
        if char in keep or unicodedata.category(char) not in _UNPRINTABLE_CATEGORIES
        else _escape(char)
        for char in text
    )


def say(text: str = "", *, file: TextIO | None = None) -> None:
    """Print ``text`` (its line breaks kept, anything else unprintable escaped)."""
    print(printable(text, keep="\n"), file=file or sys.stdout)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=True))


def cell(value: Any) -> str:
    """A value as a table cell, on one line: ``-`` for nothing, lists comma-separated."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(printable(str(item)) for item in value) if value else "(none)"
    if isinstance(value, dict):
        pairs = (f"{printable(str(k))}={printable(str(v))}" for k, v in value.items())
        return ",".join(pairs) if value else "-"
    return printable(str(value))


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
