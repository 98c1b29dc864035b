"""Cursors are opaque to clients and refused when they were not handed out."""

from __future__ import annotations

import pytest

from groq_gateway.store.paging import InvalidCursorError, decode_cursor, encode_cursor


@pytest.mark.parametrize(
    "value", ["2026-11-26T12:00:00Z#0123456789abcdef", "chatbot", "a#b#c", "ünïcode"]
)
def test_a_cursor_round_trips(value: str) -> None:
    cursor = encode_cursor(value)
    assert value not in cursor
    assert "=" not in cursor
    assert decode_cursor(cursor) == value


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "bm90IGpzb24", "W10", "eyJhZnRlciI6IDF9", "eyJhZnRlciI6ICIifQ", "e30"],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
