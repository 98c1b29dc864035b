"""What the admin API accepts: normalised where harmless, refused (naming the field) otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from groq_gateway.admin.schemas import (
    CreateKeyRequest,
    CreateTeamRequest,
    UpdateKeyRequest,
    UpdateTeamRequest,
)
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.records import AdminKey, AdminRole, GatewayKey, SecretVersion
from groq_gateway.core.views import (
    AdminKeyResponse,
    KeyResponse,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def first_error(model: Any, body: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    error = raised.value.errors()[0]
    return ".".join(str(part) for part in error["loc"]), error["msg"]


def test_cidrs_are_normalised_and_bad_ones_named() -> None:
    body = CreateKeyRequest.model_validate(
        {"name": "k", "allowed_cidrs": ["10.1.2.3/24", " 203.0.113.9 ", "2001:db8::1"]}
    )
    assert body.allowed_cidrs == ["10.1.2.0/24", "203.0.113.9/32", "2001:db8::1/128"]
    location, message = first_error(
        CreateKeyRequest, {"name": "k", "allowed_cidrs": ["10.0.0.0/8", "300.1.1.1"]}
    )
    assert location == "allowed_cidrs.1"
    assert "'300.1.1.1' is not a CIDR block" in message


def test_times_without_an_offset_are_utc() -> None:
    naive = CreateKeyRequest.model_validate({"name": "k", "expires_at": "2027-01-01T08:00:00"})
    assert naive.expires_at == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    offset = CreateKeyRequest.model_validate(
        {"name": "k", "expires_at": "2027-01-01T08:00:00+02:00"}
    )
    assert offset.expires_at == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)
    assert offset.expires_at is not None
    assert offset.expires_at.tzinfo is UTC


def test_model_lists_lose_repeats_and_budgets_keep_their_cents() -> None:
    body = CreateKeyRequest.model_validate(
        {"name": " k ", "allowed_models": ["a", "b", "a"], "monthly_budget_usd": "12.50"}
    )
    assert body.name == "k"
    assert body.allowed_models == ["a", "b"]
    assert body.monthly_budget_usd == Decimal("12.50")
    assert first_error(CreateKeyRequest, {"name": "k", "monthly_budget_usd": "0.0000001"})[0] == (
        "monthly_budget_usd"
    )
    assert first_error(CreateKeyRequest, {"name": "k", "allowed_models": [""]})[0] == (
        "allowed_models.0"
    )


def test_a_patch_knows_what_it_names_and_refuses_nulls_that_cannot_clear() -> None:
    patch = UpdateKeyRequest.model_validate({"requests_per_minute": None, "description": "x"})
    assert patch.changes() == {"requests_per_minute": None, "description": "x"}
    assert UpdateKeyRequest.model_validate({}).changes() == {}
    for field in ("name", "description", "status"):
        location, message = first_error(UpdateKeyRequest, {field: None})
        assert (location, message) == (field, "Value error, may not be null")
    for field in ("description", "model_aliases", "status"):
        assert first_error(UpdateTeamRequest, {field: None})[0] == field
    assert first_error(UpdateKeyRequest, {"status": "revoked"})[0] == "status"
    assert first_error(UpdateKeyRequest, {"secrets": []})[0] == "secrets"


def test_team_ids_are_slugs() -> None:
    assert CreateTeamRequest.model_validate({"id": "chat-bot-2"}).id == "chat-bot-2"
    for bad in ("Chatbot", "-chatbot", "chat bot", "x" * 64, ""):
        assert first_error(CreateTeamRequest, {"id": bad})[0] == "id"


def test_responses_never_carry_a_hash() -> None:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    key = GatewayKey(
        key_id=minted.key_id,
        name="k",
        monthly_budget_usd=Decimal("12.5"),
        created_at=NOW,
        updated_at=NOW,
        secrets=[
            SecretVersion(
                secret_hash=minted.secret_hash,
                display_prefix=minted.display_prefix,
                created_at=NOW,
            )
        ],
    )
    shown = KeyResponse.of(key).model_dump_json()
    assert minted.secret_hash not in shown
    assert minted.display_prefix in shown
    assert '"monthly_budget_usd":12.5' in shown
    admin_key = AdminKey(
        key_id=minted.key_id,
        name="ops",
        role=AdminRole.FULL,
        secret_hash=minted.secret_hash,
        display_prefix="ggwadm_x",
        created_by="bootstrap",
        created_at=NOW,
        updated_at=NOW,
    )
    assert minted.secret_hash not in AdminKeyResponse.of(admin_key).model_dump_json()
