"""Usage rollups: daily metering summed per key, team, model and org, for each UTC day and
month, as absolute values. Pure: no AWS, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from groq_gateway.core.periods import month_of_day
from groq_gateway.core.records import DailyUsage

ORG_ID = "org"


class RollupScope(StrEnum):
    KEY = "key"
    TEAM = "team"
    MODEL = "model"
    ORG = "org"


class PeriodKind(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, order=True)
class Period:
    """A UTC day (``2026-11-26``) or a UTC month (``2026-11``)."""

    kind: PeriodKind
    label: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.label}"


def day_period(day: str) -> Period:
    return Period(PeriodKind.DAY, day)


def month_period(month: str) -> Period:
    return Period(PeriodKind.MONTH, month)


@dataclass(frozen=True)
class UsageTotals:
    """Summed metering: what one scope used in one period."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    audio_seconds: Decimal = Decimal(0)
    cost_micros: int = 0
    estimated_requests: int = 0
    unpriced_requests: int = 0

    @classmethod
    def of(cls, usage: DailyUsage) -> UsageTotals:
        return cls(
            requests=usage.requests,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            audio_seconds=usage.audio_seconds,
            cost_micros=usage.cost_micros,
            estimated_requests=usage.estimated_requests,
            unpriced_requests=usage.unpriced_requests,
        )

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            audio_seconds=self.audio_seconds + other.audio_seconds,
            cost_micros=self.cost_micros + other.cost_micros,
            estimated_requests=self.estimated_requests + other.estimated_requests,
            unpriced_requests=self.unpriced_requests + other.unpriced_requests,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, order=True)
class RollupKey:
    """Which rollup: a scope (``key``/``team``/``model``/``org``), its id, and the period."""

    scope: RollupScope
    scope_id: str
    period: Period


def roll_up(usages: Iterable[DailyUsage], months: Iterable[str]) -> dict[RollupKey, UsageTotals]:
    """Every day and month rollup of ``months`` (``YYYY-MM``) that ``usages`` contribute to.

    Items outside those months are ignored. The org's month rollup is present for every month
    asked for, even without usage (it records that the month was rolled up); day rollups and
    the other scopes' rollups exist only where there was usage.

    Example::

        roll_up([DailyUsage(key_id="k1", team_id="t", model="m", day="2026-11-26",
                            requests=2, cost_micros=10)], ["2026-11"])
        # key k1, team t, model m and org: one day rollup and one month rollup each
    """
    wanted = set(months)
    totals: dict[RollupKey, UsageTotals] = defaultdict(UsageTotals)
    for month in wanted:
        totals[RollupKey(RollupScope.ORG, ORG_ID, month_period(month))] = UsageTotals()
    for usage in usages:
        month = month_of_day(usage.day)
        if month not in wanted:
            continue
        amount = UsageTotals.of(usage)
        scopes = [
            (RollupScope.KEY, usage.key_id),
            (RollupScope.MODEL, usage.model),
            (RollupScope.ORG, ORG_ID),
        ]
        if usage.team_id:
            scopes.append((RollupScope.TEAM, usage.team_id))
        for scope, scope_id in scopes:
            for period in (day_period(usage.day), month_period(month)):
                key = RollupKey(scope, scope_id, period)
                totals[key] = totals[key] + amount
    return dict(totals)
