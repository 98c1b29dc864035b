from __future__ import annotations

import pytest

from groq_gateway.core.key_format import (
    ADMIN_KEY_PREFIX,
    GATEWAY_KEY_PREFIX,
    bearer_token,
    hash_secret,
    mint_key,
    parse_key,
)


def test_minted_key_parses_back_to_its_id_and_hash() -> None:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    parsed = parse_key(minted.plaintext, GATEWAY_KEY_PREFIX)
    assert parsed is not None
    assert parsed.key_id == minted.key_id
    assert hash_secret(parsed.key_id, parsed.secret) == minted.secret_hash


def test_rotation_keeps_the_id_and_changes_the_secret() -> None:
    first = mint_key(GATEWAY_KEY_PREFIX)
    second = mint_key(GATEWAY_KEY_PREFIX, key_id=first.key_id)
    assert second.key_id == first.key_id
    assert second.plaintext != first.plaintext
    assert second.secret_hash != first.secret_hash


def test_hash_is_bound_to_the_key_id() -> None:
    assert hash_secret("a" * 16, "s") != hash_secret("b" * 16, "s")


def test_display_prefix_never_holds_the_whole_secret() -> None:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    assert minted.plaintext.startswith(minted.display_prefix)
    assert len(minted.display_prefix) < len(minted.plaintext) - 30


def test_admin_and_gateway_keys_never_parse_as_each_other() -> None:
    admin = mint_key(ADMIN_KEY_PREFIX)
    gateway = mint_key(GATEWAY_KEY_PREFIX)
    assert parse_key(admin.plaintext, GATEWAY_KEY_PREFIX) is None
    assert parse_key(gateway.plaintext, ADMIN_KEY_PREFIX) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "ggw",
        "ggw_short_secret",
        "gsk_" + "a" * 16 + "_" + "b" * 43,
        "ggw_" + "A" * 16 + "_" + "b" * 43,  # upper case id
        "ggw_" + "a" * 16 + "_" + "b" * 42,  # short secret
        "ggw_" + "a" * 16 + "_" + "b" * 42 + "-",  # foreign character
    ],
)
def test_malformed_keys_are_refused(token: str) -> None:
    assert parse_key(token, GATEWAY_KEY_PREFIX) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
