from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.limits import (
    LimitExceededError,
    LimitKind,
    Scope,
    admission_plan,
    check_fits,
)
from groq_gateway.core.periods import minute_end, month_end
from groq_gateway.core.records import EndpointGroup, GatewayKey, Team, TeamStatus
from groq_gateway.core.web import client_ip
from groq_gateway.proxy.endpoints import resolve_endpoint
from groq_gateway.proxy.policy import (
    Principal,
    allowed_models,
    check_endpoint,
    check_source,
    check_team,
    choose_model,
)

NOW = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)


def key(**fields: object) -> GatewayKey:
    values: dict[str, object] = {
        "key_id": "k" * 16,
        "name": "app",
        "created_at": NOW,
        "updated_at": NOW,
        "secrets": [],
    }
    values.update(fields)
    return GatewayKey.model_validate(values)


def team(**fields: object) -> Team:
    values: dict[str, object] = {"team_id": "chatbot", "created_at": NOW, "updated_at": NOW}
    values.update(fields)
    return Team.model_validate(values)


def test_a_key_never_exceeds_its_team() -> None:
    principal = Principal(key=key(allowed_models=["a", "b"]), team=team(allowed_models=["b", "c"]))
    assert allowed_models(principal) == {"b"}
    assert allowed_models(Principal(key=key(), team=None)) is None
    assert allowed_models(Principal(key=key(), team=team(allowed_models=["c"]))) == {"c"}
    with pytest.raises(GatewayError) as error:
        choose_model(principal, "a")
    assert error.value.code == "model_not_available"
    assert "`a`" in error.value.message


def test_team_alias_is_applied_before_the_allowlist() -> None:
    aliased = team(
        allowed_models=["openai/gpt-oss-20b"],
        model_aliases={"llama-3.1-8b-instant": "openai/gpt-oss-20b"},
    )
    choice = choose_model(Principal(key=key(), team=aliased), "llama-3.1-8b-instant")
    assert (choice.model, choice.alias_from) == ("openai/gpt-oss-20b", "llama-3.1-8b-instant")
    with pytest.raises(GatewayError):
        choose_model(Principal(key=key(), team=aliased), "llama-3.1-8b-instant", aliases=False)


def test_paused_teams_are_refused_and_budget_pauses_do_not_retry() -> None:
    with pytest.raises(GatewayError) as budget:
        check_team(
            Principal(key=key(), team=team(status=TeamStatus.PAUSED, paused_reason="budget"))
        )
    assert budget.value.status == 429
    assert budget.value.headers["x-should-retry"] == "false"
    with pytest.raises(GatewayError) as paused:
        check_team(Principal(key=key(), team=team(status=TeamStatus.PAUSED)))
    assert paused.value.code == "team_paused"
    check_team(Principal(key=key(), team=team()))


def test_endpoint_allowlist_defaults_exclude_files_and_batches() -> None:
    files = resolve_endpoint("GET", "files")
    assert files is not None
    with pytest.raises(GatewayError):
        check_endpoint(Principal(key=key(), team=None), files)
    check_endpoint(Principal(key=key(allowed_endpoints=[EndpointGroup.FILES]), team=None), files)


def test_source_addresses() -> None:
    cidrs = ["10.0.0.0/8", "2001:db8::/32"]

    def from_address(ip: str | None) -> Principal:
        return Principal(key=key(allowed_cidrs=cidrs), team=None, source_ip=ip)

    check_source(from_address("10.1.2.3"))
    check_source(from_address("2001:db8::1"))
    for address in ("192.168.1.1", None, "not-an-ip"):
        with pytest.raises(GatewayError):
            check_source(from_address(address))
    check_source(Principal(key=key(), team=None))
    context = '{"identity": {"sourceIp": "10.9.9.9"}}'
    assert client_ip({"x-amzn-request-context": context}, "127.0.0.1") == "10.9.9.9"
    assert client_ip({}, "127.0.0.1") == "127.0.0.1"


def test_plan_counts_what_is_configured() -> None:
    limited = key(requests_per_minute=10, monthly_budget_usd=Decimal("5"), team_id="chatbot")
    capped_team = team(tokens_per_minute=1000, monthly_budget_usd=Decimal("50"))
    plan = admission_plan(
        limited, capped_team, 1_000_000, NOW, estimated_tokens=100, cost_micros=42
    )
    assert [(w.scope, w.max_requests, w.max_tokens) for w in plan.windows] == [
        (Scope.KEY, 10, None),
        (Scope.TEAM, None, 1000),
    ]
    assert [(r.scope, r.cap_micros) for r in plan.reservations] == [
        (Scope.KEY, 5_000_000),
        (Scope.TEAM, 50_000_000),
        (Scope.ORG, 1_000_000),
    ]
    assert admission_plan(key(), None, None, NOW, estimated_tokens=1, cost_micros=1).is_empty


def test_oversized_requests_are_refused_before_counting() -> None:
    plan = admission_plan(
        key(tokens_per_minute=100), None, None, NOW, estimated_tokens=101, cost_micros=0
    )
    with pytest.raises(LimitExceededError) as refusal:
        check_fits(plan)
    assert refusal.value.kind is LimitKind.TOKENS
    check_fits(
        admission_plan(
            key(tokens_per_minute=100), None, None, NOW, estimated_tokens=100, cost_micros=0
        )
    )


def test_windows_end_on_calendar_boundaries() -> None:
    assert minute_end(NOW) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert month_end(NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert month_end(datetime(2026, 2, 10, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_billing_months_follow_the_configured_timezone() -> None:
    from zoneinfo import ZoneInfo

    from groq_gateway.core.periods import month_of
    from groq_gateway.core.settings import Settings

    berlin = ZoneInfo("Europe/Berlin")
    # 23:30 UTC on 31 December is already January in Berlin.
    assert month_of(NOW) == "2026-12"
    assert month_of(NOW, berlin) == "2027-01"
    assert month_end(NOW, berlin) == datetime(2027, 2, 1, tzinfo=berlin)
    plan = admission_plan(
        key(monthly_budget_usd=Decimal(1)),
        None,
        None,
        NOW,
        estimated_tokens=1,
        cost_micros=1,
        billing_tz=berlin,
    )
    assert plan.reservations[0].month == "2027-01"
    assert Settings(table_name="t", billing_timezone="Europe/Berlin").billing_tz == berlin
    with pytest.raises(ValueError, match="timezone"):
        Settings(table_name="t", billing_timezone="Mars/Olympus")
