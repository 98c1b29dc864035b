"""Exceptions from below the routes (rotation, the bootstrap key's secret) answered exactly as
the admin API documents them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI

from groq_gateway import secrets_manager
from groq_gateway.admin.app import create_app
from groq_gateway.admin.principals import BOOTSTRAP_PRINCIPAL
from groq_gateway.admin.services.authentication import AuthenticationService
from groq_gateway.core.audit import Actor
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.records import GatewayKey, SecretVersion
from groq_gateway.core.settings import Settings
from groq_gateway.secret_rotation import (
    MAX_ATTEMPTS,
    DeliveryFailedError,
    KeyRotator,
    NoSuchKeyError,
    RotationRefusedError,
)
from groq_gateway.secrets_manager import (
    AdminKeys,
    SecretNotConfiguredError,
    SecretUnavailableError,
)
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.optimistic import KeptChangingError

pytestmark = pytest.mark.anyio
KEY_ID = "abcdefghijklmnop"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
BEARER = {"authorization": "Bearer any-admin-key"}
DELIVERY_FAILED = (
    "The new secret could not be delivered to its Secrets Manager secret; the old secret stays "
    "valid and the next scheduled run tries again."
)


def unused_store() -> GatewayStore:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
    )
    return GatewayStore("unit", client=client)


def admin_app(**services: Any) -> FastAPI:
    app = create_app(Settings(table_name="unit"), store=unused_store())
    app.state.services = replace(app.state.services, **services)
    return app


class FullAdmin:
    def principal(self, token: str) -> Any:
        return BOOTSTRAP_PRINCIPAL


class Refusing:
    """A rotator whose rotations all end in ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def rotate(self, key_id: str, actor: Actor) -> Any:
        raise self.error


class Bootstrap(AdminKeys):
    """The bootstrap key's secret, unreadable or empty."""

    def __init__(self, error: SecretUnavailableError) -> None:
        super().__init__("unit/admin-key")
        self.error = error

    def is_bootstrap_key(self, token: str) -> bool:
        raise self.error


async def answer(app: FastAPI, method: str, path: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin.test"
    ) as client:
        response = await client.request(method, path, headers=BEARER)
    return response.status_code, response.json()["error"]


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            NoSuchKeyError(KEY_ID),
            404,
            {
                "message": f"No API key with id '{KEY_ID}'.",
                "type": "invalid_request_error",
                "param": None,
                "code": "not_found",
            },
        ),
        (
            RotationRefusedError(
                f"API key '{KEY_ID}' is revoked; it cannot rotate.", code="key_not_rotatable"
            ),
            409,
            {
                "message": f"API key '{KEY_ID}' is revoked; it cannot rotate.",
                "type": "invalid_request_error",
                "param": None,
                "code": "key_not_rotatable",
            },
        ),
        (
            DeliveryFailedError(DELIVERY_FAILED),
            502,
            {
                "message": DELIVERY_FAILED,
                "type": "api_error",
                "param": None,
                "code": "delivery_failed",
            },
        ),
        (
            KeptChangingError("transact_write_items"),
            409,
            {
                "message": f"API key '{KEY_ID}' kept changing; try again.",
                "type": "invalid_request_error",
                "param": None,
                "code": "concurrent_change",
            },
        ),
    ],
)
async def test_a_failed_rotation_is_answered_as_documented(
    error: Exception, status: int, body: dict[str, Any]
) -> None:
    app = admin_app(authentication=FullAdmin(), rotator=Refusing(error))
    assert await answer(app, "POST", f"/openai/v1/api-keys/{KEY_ID}/rotate") == (status, body)


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (
            SecretUnavailableError("cannot read secret unit/admin-key"),
            {
                "message": "The gateway cannot read its admin key.",
                "type": "service_unavailable",
                "param": None,
                "code": "service_unavailable",
            },
        ),
        (
            SecretNotConfiguredError("secret unit/admin-key holds no admin_key"),
            {
                "message": "No admin key is configured.",
                "type": "service_unavailable",
                "param": None,
                "code": None,
            },
        ),
    ],
)
async def test_an_unusable_bootstrap_secret_is_a_503(
    error: SecretUnavailableError, body: dict[str, Any]
) -> None:
    authentication = AuthenticationService(unused_store(), Bootstrap(error))
    app = admin_app(authentication=authentication)
    assert await answer(app, "GET", "/openai/v1/teams") == (503, body)


def test_the_bootstrap_secret_without_a_key_is_not_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(secrets_manager, "read_json_secret", lambda *_, **__: {"admin_key": ""})
    with pytest.raises(SecretNotConfiguredError):
        AdminKeys("unit/admin-key").is_bootstrap_key("token")


def gateway_key() -> GatewayKey:
    minted = mint_key(GATEWAY_KEY_PREFIX, KEY_ID)
    version = SecretVersion(
        secret_hash=minted.secret_hash, display_prefix=minted.display_prefix, created_at=NOW
    )
    return GatewayKey(
        key_id=KEY_ID,
        name="batch",
        created_at=NOW,
        updated_at=NOW,
        secrets=[version],
        deliver_to_secret=True,
        rotation_period_days=1,
    )


class ConflictingStore:
    """A store whose every write meets a concurrent change; counts the attempts."""

    def __init__(self, key: GatewayKey | None) -> None:
        self.attempts = 0
        self.notices = None
        self.keys = SimpleNamespace(
            get=lambda key_id: key,
            update=lambda before, after: {"Update": {}},
            list_all=lambda: [] if key is None else [key],
        )
        self.audit = SimpleNamespace(commit=self.commit)

    def commit(self, entry: Any, writes: Any) -> None:
        self.attempts += 1
        raise ConditionFailedError("transact_write_items")


def rotator(store: ConflictingStore) -> KeyRotator:
    return KeyRotator(store, Settings(table_name="unit"), now=lambda: NOW)


def test_rotating_an_unknown_key_or_one_that_keeps_changing_raises_domain_errors() -> None:
    with pytest.raises(NoSuchKeyError):
        rotator(ConflictingStore(None)).rotate(KEY_ID, Actor("a", "admin"))
    store = ConflictingStore(gateway_key())
    with pytest.raises(KeptChangingError):
        rotator(store).rotate(KEY_ID, Actor("a", "admin"))
    assert store.attempts == MAX_ATTEMPTS


def test_the_scheduled_run_counts_a_key_that_kept_changing_as_failed() -> None:
    store = ConflictingStore(gateway_key())
    run = KeyRotator(store, Settings(table_name="unit"), now=lambda: NOW.replace(year=2027))
    assert run.run().failed == [KEY_ID]
