"""How a gateway key is checked against its team before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from groq_gateway.admin.services.api_keys import check_within_team
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.records import GatewayKey, SecretVersion, Team

NOW = datetime(2026, 11, 26, tzinfo=UTC)
BOUNDED = ("allowed_models", "requests_per_minute", "tokens_per_minute", "monthly_budget_usd")


def team(**fields: Any) -> Team:
    return Team(team_id="analytics", created_at=NOW, updated_at=NOW, **fields)


def key(**fields: Any) -> GatewayKey:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    version = SecretVersion(secret_hash="h", display_prefix="p", created_at=NOW)
    return GatewayKey(
        key_id=minted.key_id, name="k", created_at=NOW, updated_at=NOW, secrets=[version], **fields
    )


def refusal(key: GatewayKey, team: Team, fields: tuple[str, ...] = BOUNDED) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        check_within_team(key, team, fields)
    assert raised.value.status == 422
    return raised.value


def test_a_key_inherits_what_it_does_not_set() -> None:
    strict = team(
        allowed_models=["a"],
        requests_per_minute=10,
        tokens_per_minute=100,
        monthly_budget_usd=Decimal(5),
    )
    check_within_team(key(), strict, BOUNDED)
    check_within_team(
        key(allowed_models=["a"], requests_per_minute=10, monthly_budget_usd=Decimal(5)),
        strict,
        BOUNDED,
    )
    check_within_team(key(allowed_models=["b"], requests_per_minute=99), team(), BOUNDED)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"allowed_models": ["a", "b", "c"]}, "allowed_models"),
        ({"requests_per_minute": 11}, "requests_per_minute"),
        ({"tokens_per_minute": 101}, "tokens_per_minute"),
        ({"monthly_budget_usd": Decimal("5.01")}, "monthly_budget_usd"),
    ],
)
def test_a_key_above_its_team_is_refused_naming_the_field(
    fields: dict[str, Any], param: str
) -> None:
    strict = team(
        allowed_models=["a"],
        requests_per_minute=10,
        tokens_per_minute=100,
        monthly_budget_usd=Decimal(5),
    )
    error = refusal(key(**fields), strict)
    assert (error.param, error.code) == (param, "exceeds_team")
    if param == "allowed_models":
        assert "b, c" in error.message


def test_only_the_named_fields_are_checked() -> None:
    narrowed = team(allowed_models=["a"], requests_per_minute=10)
    over = key(allowed_models=["z"], requests_per_minute=50)
    check_within_team(over, narrowed, ("tokens_per_minute",))
    assert refusal(over, narrowed, ("requests_per_minute",)).param == "requests_per_minute"
