"""Usage arithmetic: buckets, sums, money and budgets, without a store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from groq_gateway.admin.schemas import GroupBy
from groq_gateway.admin.usage import (
    bucket_ranges,
    budget_status,
    group_key,
    usage_result,
    usage_totals,
)
from groq_gateway.core.limits import MonthSpend
from groq_gateway.core.money import micros_to_usd
from groq_gateway.core.records import DailyUsage, UsageCounts


def usage(day: str, model: str = "m", **counts: int) -> DailyUsage:
    return DailyUsage(key_id="k" * 16, team_id="t", model=model, day=day, **counts)


def test_day_buckets_cover_each_day() -> None:
    assert bucket_ranges(date(2026, 2, 27), date(2026, 3, 1), "day") == [
        (date(2026, 2, 27), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 1)),
    ]


def test_month_buckets_are_clipped_to_the_range() -> None:
    assert bucket_ranges(date(2026, 11, 15), date(2027, 1, 10), "month") == [
        (date(2026, 11, 15), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 1, 10)),
    ]
    assert bucket_ranges(date(2026, 2, 1), date(2026, 2, 1), "month") == [
        (date(2026, 2, 1), date(2026, 2, 1))
    ]


def test_buckets_reach_the_last_day_of_the_calendar() -> None:
    last = date(9999, 12, 31)
    assert bucket_ranges(date(9999, 12, 30), last, "day") == [
        (date(9999, 12, 30), date(9999, 12, 30)),
        (last, last),
    ]
    assert bucket_ranges(date(9999, 11, 30), last, "month") == [
        (date(9999, 11, 30), date(9999, 11, 30)),
        (date(9999, 12, 1), last),
    ]


def test_usage_counts_sum_every_counter_and_the_api_shows_dollars() -> None:
    counts = UsageCounts.total(
        [
            usage("2026-11-01", requests=2, prompt_tokens=10, completion_tokens=5, cost_micros=7),
            usage(
                "2026-11-02",
                requests=1,
                prompt_tokens=1,
                cost_micros=1_500_000,
                estimated_requests=1,
                unpriced_requests=1,
            ),
        ]
    )
    totals = usage_totals(counts)
    assert (totals.requests, totals.total_tokens, totals.prompt_tokens) == (3, 16, 11)
    assert totals.cost_usd == Decimal("1.500007")
    assert (totals.estimated_requests, totals.unpriced_requests) == (1, 1)
    assert '"cost_usd":1.500007' in totals.model_dump_json()
    result = usage_result(counts, "k", "name", None, "m")
    assert (result.key_name, result.team, result.requests) == ("name", None, 3)


def test_budget_remaining_never_goes_below_zero() -> None:
    resets = datetime(2026, 12, 1, tzinfo=UTC)
    spent = budget_status(Decimal("10"), MonthSpend(12_000_000, 11_000_000), resets)
    assert (spent.committed_usd, spent.remaining_usd) == (Decimal(12), Decimal(0))
    fresh = budget_status(Decimal("0.50"), MonthSpend(0, 0), resets)
    assert (fresh.remaining_usd, fresh.leased_usd) == (Decimal("0.5"), Decimal(0))
    leased = budget_status(Decimal("10"), MonthSpend(3_000_000, 500_000, 2_000_000), resets)
    assert (leased.committed_usd, leased.leased_usd, leased.remaining_usd) == (3, 2, 7)
    assert micros_to_usd(1) == Decimal("0.000001")


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ([], (None, None, None)),
        (["model"], (None, None, "m")),
        (["key", "team", "model"], ("k" * 16, "t", "m")),
    ],
)
def test_group_keys(group_by: list[GroupBy], expected: tuple[str | None, ...]) -> None:
    assert group_key(usage("2026-11-01"), group_by) == expected
