"""Secrets Manager behind a small adapter: cached JSON secrets (Powertools Parameters), the
upstream and bootstrap admin keys, and key delivery.

Example::

    UpstreamKeys(secret_id="arn:...:secret:upstream", max_age=60).active_key()
"""

from __future__ import annotations

import hmac
import json
import time
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)


class SecretUnavailableError(Exception):
    """The secret could not be read or does not hold what it should."""


class SecretNotConfiguredError(SecretUnavailableError):
    """The secret was read but holds no value yet: an operator has to store one."""


@cache
def secrets_provider() -> SecretsProvider:
    """The process's Secrets Manager client and value cache, created on first use (creating
    the client loads its service model: about 50 ms)."""
    return SecretsProvider()


def read_json_secret(secret_id: str, *, max_age: float, force: bool = False) -> dict[str, Any]:
    """The secret's JSON object, cached for ``max_age`` seconds."""
    try:
        # The stage is named explicitly: it is what AWS reads by default, and it is what
        # moto's server gets right after a rotation moved the stage (its default does not).
        value = secrets_provider().get(
            secret_id,
            transform="json",
            max_age=int(max_age),
            force_fetch=force,
            VersionStage="AWSCURRENT",
        )
    except (GetParameterError, TransformParameterError) as error:
        raise SecretUnavailableError(f"cannot read secret {secret_id}") from error
    if not isinstance(value, dict):
        raise SecretUnavailableError(f"secret {secret_id} is not a JSON object")
    return value


class UpstreamKeys:
    """The upstream Groq key, from the secret ``{"active": "gsk_...", "staged": [...]}``."""

    def __init__(self, secret_id: str, max_age: float) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self._held: tuple[str, float] | None = None  # the key, monotonic() when it was read

    def prepare(self) -> None:
        """Create the Secrets Manager client now rather than on the first request: called
        during Lambda's init, whose work a SnapStart snapshot keeps. Reads nothing."""
        secrets_provider()

    def active_key(self, *, force: bool = False) -> str:
        """The key requests go out with; :class:`SecretUnavailableError` if it cannot be read,
        :class:`SecretNotConfiguredError` if the secret holds none yet."""
        value = read_json_secret(self.secret_id, max_age=self.max_age, force=force)
        key = value.get("active")
        if not isinstance(key, str) or not key:
            self._held = None
            raise SecretNotConfiguredError(f"secret {self.secret_id} holds no active key")
        # Taken after the read: the secret's cache entry is never younger than this, so once
        # this one expires the next active_key() reads the secret again.
        self._held = (key, time.monotonic())
        return key

    def held_key(self) -> str | None:
        """The key :meth:`active_key` returned last, while it is younger than ``max_age``;
        None when the secret must be read (blocking I/O). Reads nothing: the proxy calls it
        on the event loop and hands only a read to a worker thread."""
        held = self._held
        if held is None or time.monotonic() - held[1] >= self.max_age:
            return None
        return held[0]


class AdminKeys:
    """The bootstrap admin key, from the secret ``{"admin_key": "..."}``."""

    def __init__(self, secret_id: str, max_age: float = 60.0) -> None:
        self.secret_id = secret_id
        self.max_age = max_age

    def is_bootstrap_key(self, token: str) -> bool:
        """Whether ``token`` is the bootstrap admin key; :class:`SecretUnavailableError` when
        the secret cannot be read, :class:`SecretNotConfiguredError` when it holds no key."""
        value = read_json_secret(self.secret_id, max_age=self.max_age)
        expected = value.get("admin_key")
        if not isinstance(expected, str) or not expected:
            raise SecretNotConfiguredError(f"secret {self.secret_id} holds no admin_key")
        return hmac.compare_digest(expected.encode(), token.encode())


def deliver_key(secret_name: str, value: dict[str, Any]) -> None:
    """Write a key's new secret where its app reads it: the secret's new current version,
    created on first delivery. The app's next read (or its cache's expiry) picks it up."""
    client = boto3.client("secretsmanager")
    body = json.dumps(value)
    try:
        client.put_secret_value(SecretId=secret_name, SecretString=body)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(
            Name=secret_name,
            SecretString=body,
            Description="A Groq gateway key, delivered by the gateway's rotation.",
        )
