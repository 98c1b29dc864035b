"""The budget threshold domain and the rollup arithmetic: pure, no AWS, no clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from groq_gateway.core.limits import Scope
from groq_gateway.core.money import micros_to_cents
from groq_gateway.core.periods import month_days, previous_month
from groq_gateway.core.records import DailyUsage, UsageCounts
from groq_gateway.core.rollups import (
    ORG_ID,
    RollupKey,
    RollupScope,
    day_period,
    month_period,
    roll_up,
)
from groq_gateway.usage_poller.budget_rules import (
    BudgetDecision,
    BudgetState,
    ScopeStatus,
    decide,
    reached_thresholds,
    utilization_percent,
)

DOLLAR = 1_000_000


def state(
    spent_usd: str,
    budget_usd: str | None = "100",
    *,
    scope: Scope = Scope.KEY,
    status: ScopeStatus = ScopeStatus.ACTIVE,
) -> BudgetState:
    budget = None if budget_usd is None else int(Decimal(budget_usd) * DOLLAR)
    return BudgetState(scope, "id", "name", budget, int(Decimal(spent_usd) * DOLLAR), status)


# -- utilisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "budget", "percent"),
    [
        (0, 100 * DOLLAR, 0),
        (49_490_000, 100 * DOLLAR, 49),
        (49_500_000, 100 * DOLLAR, 50),
        (99_499_999, 100 * DOLLAR, 99),
        (99_500_000, 100 * DOLLAR, 100),  # a hard cap stops spend just short of the budget
        (130 * DOLLAR, 100 * DOLLAR, 130),  # settlement can overshoot a little
        (1, 3, 33),
        (5, None, None),
        (5, 0, None),  # a budget of 0 allows nothing: no utilisation, no thresholds
    ],
)
def test_utilisation_is_a_whole_percent_rounded_half_up(
    spent: int, budget: int | None, percent: int | None
) -> None:
    assert utilization_percent(spent, budget) == percent


@pytest.mark.parametrize(
    ("percent", "reached"),
    [(None, ()), (0, ()), (49, ()), (50, (50,)), (80, (50, 80)), (100, (50, 80, 100))],
)
def test_thresholds_reached(percent: int | None, reached: tuple[int, ...]) -> None:
    assert reached_thresholds(percent) == reached


def test_money_in_messages_is_rounded_to_the_cent() -> None:
    assert micros_to_cents(80_104_999) == Decimal("80.10")
    assert micros_to_cents(80_105_000) == Decimal("80.11")
    assert str(micros_to_cents(100 * DOLLAR)) == "100.00"


# -- decisions ------------------------------------------------------------------------------


def test_below_half_nothing_happens() -> None:
    decision = decide(state("49"), frozenset())
    assert decision == BudgetDecision(utilization_percent=49)
    assert not decision.changes_anything
    assert decision.notify_threshold is None


def test_each_threshold_is_new_only_until_notified() -> None:
    assert decide(state("50"), frozenset()).new_thresholds == (50,)
    assert decide(state("79"), frozenset({50})).new_thresholds == ()
    assert decide(state("80.2"), frozenset({50})).new_thresholds == (80,)


def test_a_jump_notifies_the_highest_threshold_and_marks_the_others() -> None:
    decision = decide(state("85"), frozenset())
    assert decision.new_thresholds == (50, 80)
    assert decision.notify_threshold == 80
    assert not decision.pause


def test_an_exhausted_active_key_or_team_is_paused() -> None:
    for scope in (Scope.KEY, Scope.TEAM):
        decision = decide(state("100", scope=scope), frozenset({50, 80}))
        assert decision.pause
        assert decision.new_thresholds == (100,)
        assert not decision.resume


def test_the_organisation_is_notified_but_never_paused() -> None:
    decision = decide(state("120", scope=Scope.ORG), frozenset({50}))
    assert decision.new_thresholds == (80, 100)
    assert not decision.pause
    assert not decision.resume


def test_an_exhausted_scope_is_paused_again_even_when_already_notified() -> None:
    """An admin resumed it without raising the budget: the budget is still exhausted."""
    decision = decide(state("100"), frozenset({50, 80, 100}))
    assert decision.pause
    assert decision.new_thresholds == ()


def test_a_scope_paused_for_budget_stays_paused_while_exhausted() -> None:
    decision = decide(state("100", status=ScopeStatus.PAUSED_FOR_BUDGET), frozenset({50, 80, 100}))
    assert not decision.changes_anything


@pytest.mark.parametrize(
    ("spent", "budget"),
    [("0", "100"), ("99", "200"), ("5", None)],
    ids=["new billing month", "budget raised", "budget removed"],
)
def test_a_scope_paused_for_budget_resumes_once_it_is_no_longer_exhausted(
    spent: str, budget: str | None
) -> None:
    decision = decide(state(spent, budget, status=ScopeStatus.PAUSED_FOR_BUDGET), frozenset())
    assert decision.resume
    assert not decision.pause


def test_scopes_paused_for_another_reason_are_never_paused_or_resumed() -> None:
    exhausted = decide(state("100", status=ScopeStatus.PAUSED_BY_ADMIN), frozenset())
    assert exhausted.new_thresholds == (50, 80, 100)  # still told
    assert not exhausted.pause
    fresh_month = decide(state("0", status=ScopeStatus.PAUSED_BY_ADMIN), frozenset())
    assert not fresh_month.resume


# -- rollups --------------------------------------------------------------------------------


def usage(
    day: str, *, key: str = "k1", team: str | None = "t1", model: str = "m1", **counts: int
) -> DailyUsage:
    return DailyUsage.model_validate(
        {"key_id": key, "team_id": team, "model": model, "day": day, **counts}
    )


def test_roll_up_sums_each_scope_per_day_and_month() -> None:
    rollups = roll_up(
        [
            usage("2026-11-25", requests=1, prompt_tokens=10, cost_micros=100),
            usage("2026-11-26", requests=2, completion_tokens=5, cost_micros=200),
            usage("2026-11-26", key="k2", team=None, model="m2", requests=4, cost_micros=400),
        ],
        ["2026-11"],
    )
    month = month_period("2026-11")
    assert rollups[RollupKey(RollupScope.KEY, "k1", month)] == UsageCounts(
        requests=3, prompt_tokens=10, completion_tokens=5, cost_micros=300
    )
    assert rollups[RollupKey(RollupScope.TEAM, "t1", day_period("2026-11-26"))] == UsageCounts(
        requests=2, completion_tokens=5, cost_micros=200
    )
    assert rollups[RollupKey(RollupScope.ORG, ORG_ID, month)].cost_micros == 700
    assert rollups[RollupKey(RollupScope.MODEL, "m2", month)].requests == 4
    # k1, t1, m1 and org: two days and the month each; k2 and m2: one day and the month.
    assert len(rollups) == 4 * 3 + 2 * 2
    scopes = {(k.scope, k.scope_id) for k in rollups}
    assert scopes == {
        (RollupScope.KEY, "k1"),
        (RollupScope.KEY, "k2"),
        (RollupScope.TEAM, "t1"),
        (RollupScope.MODEL, "m1"),
        (RollupScope.MODEL, "m2"),
        (RollupScope.ORG, ORG_ID),
    }


def test_roll_up_ignores_other_months_and_always_has_the_org_month() -> None:
    rollups = roll_up([usage("2026-10-31", requests=1)], ["2026-11"])
    assert rollups == {
        RollupKey(RollupScope.ORG, ORG_ID, month_period("2026-11")): UsageCounts(),
    }


def test_roll_up_is_the_same_whatever_the_order() -> None:
    items = [usage(f"2026-11-{day:02d}", requests=day, cost_micros=day * 7) for day in range(1, 9)]
    assert roll_up(items, ["2026-11"]) == roll_up(list(reversed(items)), ["2026-11"])


def test_audio_seconds_are_summed_exactly() -> None:
    rollups = roll_up(
        [
            DailyUsage(key_id="k", model="w", day="2026-11-01", audio_seconds=Decimal("0.1")),
            DailyUsage(key_id="k", model="w", day="2026-11-02", audio_seconds=Decimal("0.2")),
        ],
        ["2026-11"],
    )
    month = RollupKey(RollupScope.KEY, "k", month_period("2026-11"))
    assert rollups[month].audio_seconds == Decimal("0.3")


@pytest.mark.parametrize(
    ("month", "first", "last", "before"),
    [
        ("2026-11", "2026-11-01", "2026-11-30", "2026-10"),
        ("2026-12", "2026-12-01", "2026-12-31", "2026-11"),
        ("2027-01", "2027-01-01", "2027-01-31", "2026-12"),
        ("2028-02", "2028-02-01", "2028-02-29", "2028-01"),
    ],
)
def test_month_arithmetic(month: str, first: str, last: str, before: str) -> None:
    assert month_days(month) == (first, last)
    assert previous_month(month) == before
