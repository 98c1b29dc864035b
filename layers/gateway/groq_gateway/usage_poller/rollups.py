"""The poller's rollup step: the open months' metering summed per key, team, model and org,
per day and month, and the rollups that changed written. See docs/architecture.md."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from groq_gateway.core.periods import day_of, month_days, month_of, month_start, previous_month
from groq_gateway.core.records import DailyUsage, GatewayKey, UsageCounts
from groq_gateway.core.rollups import (
    ORG_ID,
    Period,
    RollupKey,
    RollupScope,
    day_period,
    month_period,
    roll_up,
)
from groq_gateway.store import GatewayStore
from groq_gateway.store.rollups import RollupStore, StoredRollup

# How long after a UTC month ends its metering items may still land: a usage item is dated
# when its settlement starts, and a settlement takes seconds at most (DynamoDB retries).
SETTLEMENT_GRACE = timedelta(minutes=2)
# Keys whose metering items are read at once.
USAGE_READERS = 8


@dataclass(frozen=True)
class MonthToDate:
    """The current UTC month's totals the metrics publish."""

    org: UsageCounts
    teams: dict[str, UsageCounts]


def _read_usage(
    store: GatewayStore, keys: Sequence[GatewayKey], first_day: str, last_day: str
) -> list[DailyUsage]:
    def of_key(key: GatewayKey) -> list[DailyUsage]:
        return list(store.usage.for_key(key.key_id, first_day, last_day))

    with ThreadPoolExecutor(max_workers=USAGE_READERS) as pool:
        return [usage for usages in pool.map(of_key, keys) for usage in usages]


def _periods(month: str, last_day: str) -> list[Period]:
    first, month_last = month_days(month)
    days = []
    day = datetime.fromisoformat(first).date()
    end = datetime.fromisoformat(min(month_last, last_day)).date()
    while day <= end:
        days.append(day_period(day.isoformat()))
        day += timedelta(days=1)
    return [*days, month_period(month)]


def roll_up_usage(
    store: GatewayStore, rollups: RollupStore, keys: Sequence[GatewayKey], now: datetime
) -> tuple[MonthToDate, int]:
    """Compute every rollup of the open months from the metering items and write the ones
    that changed; returns this month's totals and how many rollups were written."""
    current = month_of(now)
    months = [current]
    closing = previous_month(current)
    if not rollups.is_month_complete(closing):
        months.insert(0, closing)
    today = day_of(now)
    usages = _read_usage(store, keys, month_days(months[0])[0], today)
    computed = roll_up(usages, months)
    closing_is_final = now >= month_start(current) + SETTLEMENT_GRACE
    closing_org = RollupKey(RollupScope.ORG, ORG_ID, month_period(closing))

    stored: dict[RollupKey, StoredRollup] = {}
    for month in months:
        for period in _periods(month, today):
            stored.update((rollup.key, rollup) for rollup in rollups.for_period(period))

    written = 0
    # The closing month's org rollup goes last: marked complete, it closes the month, so it
    # must not be written before every other rollup of that month is.
    for key in sorted(computed, key=lambda k: k == closing_org):
        complete = key == closing_org and closing_is_final
        previous = stored.get(key)
        if previous and previous.totals == computed[key] and previous.complete == complete:
            continue
        if rollups.put(key, computed[key], now, complete=complete):
            written += 1
    this_month = month_period(current)
    teams = {
        key.scope_id: totals
        for key, totals in computed.items()
        if key.scope is RollupScope.TEAM and key.period == this_month
    }
    org = computed[RollupKey(RollupScope.ORG, ORG_ID, this_month)]
    return MonthToDate(org, teams), written
