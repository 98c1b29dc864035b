"""Usage rollups: daily metering summed per key, team, model and org, for each UTC day and
month, as absolute values. Pure: no AWS, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from groq_gateway.core.periods import month_of_day
from groq_gateway.core.records import DailyUsage, UsageCounts

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


@dataclass(frozen=True, order=True)
class RollupKey:
    """Which rollup: a scope (``key``/``team``/``model``/``org``), its id, and the period."""

    scope: RollupScope
    scope_id: str
    period: Period


def roll_up(usages: Iterable[DailyUsage], months: Iterable[str]) -> dict[RollupKey, UsageCounts]:
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
    totals: dict[RollupKey, UsageCounts] = defaultdict(UsageCounts)
    for month in wanted:
        totals[RollupKey(RollupScope.ORG, ORG_ID, month_period(month))] = UsageCounts()
    for usage in usages:
        month = month_of_day(usage.day)
        if month not in wanted:
            continue
        amount = usage.counts()
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
