"""Gateway and admin keys (``ggw_<key id>_<secret>``, ``ggwadm_...``): minting, parsing, hashing.
See docs/architecture.md#keys.

Example::

    parsed = parse_key(mint_key(GATEWAY_KEY_PREFIX).plaintext, GATEWAY_KEY_PREFIX)
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

GATEWAY_KEY_PREFIX = "ggw"
ADMIN_KEY_PREFIX = "ggwadm"

_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_ID_LENGTH = 16
SECRET_LENGTH = 43


@dataclass(frozen=True)
class ParsedKey:
    """A key split into its parts; says nothing yet about whether it is valid."""

    key_id: str
    secret: str


@dataclass(frozen=True)
class MintedKey:
    """A freshly generated key: the plaintext is shown once and never stored."""

    key_id: str
    plaintext: str
    secret_hash: str
    display_prefix: str


def new_key_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def hash_secret(key_id: str, secret: str) -> str:
    """The stored digest of a secret, bound to its key id."""
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def display_prefix(prefix: str, key_id: str, secret: str) -> str:
    """What lists and logs may show of a key: never enough to use it."""
    return f"{prefix}_{key_id}_{secret[:4]}"


def mint_key(prefix: str, key_id: str | None = None) -> MintedKey:
    """A new key; pass ``key_id`` to mint a new secret for an existing key (rotation)."""
    key_id = key_id or new_key_id()
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return MintedKey(
        key_id=key_id,
        plaintext=f"{prefix}_{key_id}_{secret}",
        secret_hash=hash_secret(key_id, secret),
        display_prefix=display_prefix(prefix, key_id, secret),
    )


def parse_key(token: str, prefix: str) -> ParsedKey | None:
    """Split ``token`` if it has the shape of a ``prefix`` key, else ``None``."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix:
        return None
    key_id, secret = parts[1], parts[2]
    if len(key_id) != KEY_ID_LENGTH or any(c not in _ID_ALPHABET for c in key_id):
        return None
    if len(secret) != SECRET_LENGTH or any(c not in _SECRET_ALPHABET for c in secret):
        return None
    return ParsedKey(key_id=key_id, secret=secret)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
