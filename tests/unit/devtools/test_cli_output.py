"""What the CLI prints holds no character a terminal would act on: names, descriptions, ids and
error messages from the server (a record written before the admin API refused such characters,
or a hostile server) are shown escaped, for every admin command that prints them."""

from __future__ import annotations

import unicodedata
from json import dumps
from typing import Any

import httpx
import pytest

from groq_gateway_dev.cli.main import build_parser, run_admin_command
from groq_gateway_dev.cli.output import cell, printable, table

URL = "http://gateway.test"
KEY = "test-admin-key"
# Clears the screen and homes the cursor, sets the window title, rings the bell, reverses
# the text's direction, hides a character, overwrites the line, and a lone surrogate.
HOSTILE = "\x1b[2J\x1b[H\x1b]0;pwned\x07evil\u202e\u200b\r\x9b31m\ud800"
FORBIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def record() -> dict[str, Any]:
    """Every field any command prints, each hostile where it is text."""
    text_fields = [
        "id", "name", "team", "status", "prefix", "paused_reason", "description", "expires_at",
        "created_at", "updated_at", "last_rotated_at", "role", "created_by", "key",
        "delivered_to",
    ]  # fmt: skip
    return {
        **dict.fromkeys(text_fields, HOSTILE),
        "allowed_models": [HOSTILE],
        "model_aliases": {HOSTILE: HOSTILE},
        "allowed_endpoints": [HOSTILE],
        "allowed_cidrs": [HOSTILE],
        "requests_per_minute": 5,
        "tokens_per_minute": 5,
        "monthly_budget_usd": 5,
        "rotation_period_days": None,
        "deliver_to_secret": False,
        "previous_secrets": [],
        "deleted": True,
    }


def figures(**names: str) -> dict[str, Any]:
    return {
        **names,
        "requests_today": 1,
        "tokens_today": 1,
        "estimated_cost_usd": 1,
        "month_to_date": {"cost_usd": 1},
        "budget": None,
    }


def hostile_server(request: httpx.Request) -> httpx.Response:
    path = request.url.path.removeprefix("/openai/v1")
    if path == "/usage":
        return answer(
            200,
            json={
                "date": HOSTILE,
                "month": HOSTILE,
                "resets_at": HOSTILE,
                "usage_by_key": [figures(key_name=HOSTILE, key_id=HOSTILE, team=HOSTILE)],
                "usage_by_team": [figures(team=HOSTILE)],
                "organization": figures(),
            },
        )
    if path == "/usage/history":
        result = {
            "key_name": HOSTILE,
            "key_id": HOSTILE,
            "team": HOSTILE,
            "model": HOSTILE,
            "requests": 1,
            "total_tokens": 1,
            "cost_usd": 1,
        }
        bucket = {"start": HOSTILE, "end": HOSTILE, "results": [result]}
        return answer(200, json={"data": [bucket]})
    if path == "/audit-log":
        entry = {
            "at": HOSTILE,
            "actor_name": HOSTILE,
            "actor_id": HOSTILE,
            "action": HOSTILE,
            "target_id": HOSTILE,
            "source_ip": HOSTILE,
            "before": {"name": HOSTILE, "status": "active"},
            "after": {"name": "x", "status": HOSTILE, HOSTILE: 1},
        }
        return answer(200, json=page([entry]))
    if path == "/prices" and request.method == "GET":
        price = {"model": HOSTILE, "source": HOSTILE, "updated_by": HOSTILE}
        unpriced = dict.fromkeys(
            ["input_per_million", "output_per_million", "per_audio_hour"], HOSTILE
        )
        unpriced |= {"policy": "charge", "per_million_characters": HOSTILE}
        return answer(
            200, {"data": [price], "unpriced_models": unpriced, "batch_discount": HOSTILE}
        )
    if path.startswith("/prices/"):
        return answer(
            200, {"model": HOSTILE, "input_per_million": HOSTILE, "effective": {"source": HOSTILE}}
        )
    if path.endswith("/missing"):
        error = {"message": HOSTILE, "type": "invalid_request_error", "param": None}
        return answer(404, json={"error": error | {"code": HOSTILE}})
    if request.method == "GET" and path in ("/api-keys", "/teams", "/admin-keys"):
        return answer(200, json=page([record()]))
    return answer(200, json=record())


def answer(status: int, json: Any) -> httpx.Response:
    """JSON as a server sends it: ASCII with escapes (a lone surrogate survives only so)."""
    return httpx.Response(
        status, content=dumps(json).encode(), headers={"content-type": "application/json"}
    )


def page(data: list[Any]) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "next_cursor": None}


COMMANDS = [
    ["keys", "list"],
    ["keys", "show", "k"],
    ["keys", "create", "k"],
    ["keys", "update", "k", "--rpm", "5"],
    ["keys", "revoke", "k"],
    ["keys", "rotate", "k"],
    ["teams", "list"],
    ["teams", "show", "t"],
    ["teams", "create", "t"],
    ["teams", "delete", "t"],
    ["admin-keys", "list"],
    ["admin-keys", "create", "a", "--role", "full"],
    ["admin-keys", "revoke", "a"],
    ["usage"],
    ["usage", "--start", "2026-11-01"],
    ["audit"],
    ["prices", "list"],
    ["prices", "set", "m", "--input", "1"],
    ["prices", "delete", "m"],
    ["keys", "show", "missing"],
]


def unprintable(text: str) -> list[str]:
    return [
        f"U+{ord(char):04X}"
        for char in text
        if char != "\n" and unicodedata.category(char) in FORBIDDEN
    ]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_shows_server_text_escaped(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args([*argv, "--url", URL, "--admin-key", KEY])
    run_admin_command(args, httpx.MockTransport(hostile_server))
    out, err = capsys.readouterr()
    assert unprintable(out) == []
    assert unprintable(err) == []
    assert "\\x1b[2J" in out + err  # shown, not acted on


def test_escapes_are_readable_and_other_scripts_untouched() -> None:
    assert printable("a\x1b[0mb\u202ec\U000e0001") == "a\\x1b[0mb\\u202ec\\U000e0001"
    assert printable("Équipe 数据 😀 tab\there") == "Équipe 数据 😀 tab\\there"
    assert cell(["a\nb", "c"]) == "a\\nb,c"
    # A table stays aligned: one line per row whatever a cell held.
    assert table(["NAME"], [["x\ny"], ["z"]]).splitlines() == ["NAME", "x\\ny", "z"]
