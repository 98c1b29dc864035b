from __future__ import annotations

from groq_gateway.core.key_format import ADMIN_KEY_PREFIX, GATEWAY_KEY_PREFIX, mint_key
from tests.secret_scan import SecretScan


def test_the_scan_finds_every_kind_of_key_and_names_only_where() -> None:
    scan = SecretScan(known={"fixed-test-secret"})
    gateway, admin = mint_key(GATEWAY_KEY_PREFIX), mint_key(ADMIN_KEY_PREFIX)
    scan.scan("log", f'{{"message": "x", "key": "{gateway.plaintext}"}}\nclean line')
    scan.scan("log", f"admin {admin.plaintext}")
    scan.scan("log", "upstream gsk_abcdefgh12345678")
    scan.scan("log", "the fixed-test-secret leaked")
    assert len(scan.findings) == 4
    assert all(gateway.plaintext not in f and admin.plaintext not in f for f in scan.findings)


def test_ids_and_display_prefixes_are_not_key_material() -> None:
    scan = SecretScan()
    minted = mint_key(GATEWAY_KEY_PREFIX)
    scan.scan("log", f'{{"key_id": "{minted.key_id}", "prefix": "{minted.display_prefix}"}}')
    assert scan.findings == []
