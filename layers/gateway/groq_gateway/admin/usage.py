"""Usage reports from the proxy's metering: today and month to date, and history in buckets.
Budgets follow the billing month; usage figures count whole UTC days (docs/admin-api.md).

Example::

    UsageReports(store, org_cap_usd=Decimal(1000), billing_tz=ZoneInfo("Europe/Berlin")).summary()
"""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Literal

from groq_gateway.admin.schemas import (
    BudgetStatus,
    GroupBy,
    KeyUsageSummary,
    OrganizationUsageSummary,
    TeamUsageSummary,
    UsageBucket,
    UsageHistory,
    UsageResult,
    UsageSummary,
    UsageTotals,
)
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.limits import MonthSpend, Scope
from groq_gateway.core.money import micros_to_usd, usd_to_micros
from groq_gateway.core.periods import month_end, month_of, utcnow
from groq_gateway.core.records import DailyUsage, KeyStatus, UsageCounts
from groq_gateway.store import GatewayStore
from groq_gateway.store.usage import RETENTION_DAYS

# Concurrent store reads for reports over many keys.
MAX_CONCURRENT_READS = 16

Bucket = Literal["day", "month"]


def usage_totals(counts: UsageCounts) -> UsageTotals:
    """The counters as the API shows them: tokens in all, cost in USD."""
    return UsageTotals(
        requests=counts.requests,
        prompt_tokens=counts.prompt_tokens,
        completion_tokens=counts.completion_tokens,
        total_tokens=counts.total_tokens,
        audio_seconds=float(counts.audio_seconds),
        cost_usd=micros_to_usd(counts.cost_micros),
        estimated_requests=counts.estimated_requests,
        unpriced_requests=counts.unpriced_requests,
    )


def usage_result(
    counts: UsageCounts,
    key_id: str | None,
    key_name: str | None,
    team: str | None,
    model: str | None,
) -> UsageResult:
    return UsageResult(
        **usage_totals(counts).model_dump(),
        key_id=key_id,
        key_name=key_name,
        team=team,
        model=model,
    )


def budget_status(cap_usd: Decimal, spend: MonthSpend, resets_at: datetime) -> BudgetStatus:
    cap_micros = usd_to_micros(cap_usd)
    return BudgetStatus(
        monthly_budget_usd=cap_usd,
        committed_usd=micros_to_usd(spend.committed_micros),
        leased_usd=micros_to_usd(spend.leased_micros),
        remaining_usd=micros_to_usd(max(0, cap_micros - spend.committed_micros)),
        resets_at=resets_at,
    )


def bucket_ranges(start: date, end: date, bucket: Bucket) -> list[tuple[date, date]]:
    """The buckets covering ``start`` to ``end`` (inclusive); month buckets are clipped to
    the range."""
    ranges: list[tuple[date, date]] = []
    first = start
    while first <= end:
        if bucket == "day":
            last = first
        else:
            last = min(end, first.replace(day=monthrange(first.year, first.month)[1]))
        ranges.append((first, last))
        if last == end:  # also keeps clear of date.max
            break
        first = last + timedelta(days=1)
    return ranges


GroupKey = tuple[str | None, str | None, str | None]  # key id, team, model


def group_key(item: DailyUsage, group_by: Sequence[GroupBy]) -> GroupKey:
    return (
        item.key_id if "key" in group_by else None,
        item.team_id if "team" in group_by else None,
        item.model if "model" in group_by else None,
    )


class UsageReports:
    def __init__(
        self,
        store: GatewayStore,
        *,
        org_cap_usd: Decimal,
        billing_tz: tzinfo = UTC,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.org_cap_usd = org_cap_usd if org_cap_usd > 0 else None
        self.billing_tz = billing_tz
        self._now = now

    def summary(self, *, teams: Collection[str] | None = None) -> UsageSummary:
        """Every key, team and the organisation: today, month to date, caps and reset.
        ``teams``: a team-scoped caller's, whose keys and teams alone are shown (and not the
        organisation)."""
        now = self._now()
        today = now.astimezone(UTC).date()
        month, resets_at = month_of(now, self.billing_tz), month_end(now, self.billing_tz)
        month_began = now.astimezone(self.billing_tz).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        today_text = today.isoformat()
        first_text = month_began.astimezone(UTC).date().isoformat()
        keys = list(self.store.keys.list_all())
        if teams is None:
            known = {team.team_id: team for team in self.store.teams.list_all()}
        else:
            keys = [key for key in keys if key.team_id in teams]
            found = (self.store.teams.get(team_id) for team_id in sorted(teams))
            known = {team.team_id: team for team in found if team is not None}

        def month_items(key_id: str) -> list[DailyUsage]:
            return list(self.store.usage.for_key(key_id, first_text, today_text))

        def spend(scope: Scope, scope_id: str, team_id: str | None = None) -> MonthSpend:
            return self.store.counters.month_spend(scope, scope_id, month, team_id=team_id)

        with ThreadPoolExecutor(MAX_CONCURRENT_READS) as pool:
            items_of = {k.key_id: pool.submit(month_items, k.key_id) for k in keys}
            key_spend = {
                k.key_id: pool.submit(spend, Scope.KEY, k.key_id, k.team_id)
                for k in keys
                if k.monthly_budget_usd is not None
            }
            team_spend = {
                team_id: pool.submit(spend, Scope.TEAM, team_id)
                for team_id, team in known.items()
                if team.monthly_budget_usd is not None
            }
            org_wide = teams is None and self.org_cap_usd
            org_spend = pool.submit(spend, Scope.ORG, "org") if org_wide else None

        def budget(cap: Decimal | None, future: Future[MonthSpend] | None) -> BudgetStatus | None:
            if cap is None or future is None:
                return None
            return budget_status(cap, future.result(), resets_at)

        every_item: list[DailyUsage] = []
        by_team: dict[str, list[DailyUsage]] = defaultdict(list)
        key_rows = []
        for key in keys:
            items = items_of[key.key_id].result()
            every_item += items
            for item in items:
                if item.team_id is not None and (teams is None or item.team_id in teams):
                    by_team[item.team_id].append(item)
            if key.status is KeyStatus.REVOKED and not items:
                continue
            today_tally = UsageCounts.total(i for i in items if i.day == today_text)
            key_rows.append(
                KeyUsageSummary(
                    key_id=key.key_id,
                    key_name=key.name,
                    team=key.team_id,
                    status=key.status,
                    requests_today=today_tally.requests,
                    tokens_today=today_tally.total_tokens,
                    estimated_cost_usd=micros_to_usd(today_tally.cost_micros),
                    today=usage_totals(today_tally),
                    month_to_date=usage_totals(UsageCounts.total(items)),
                    budget=budget(key.monthly_budget_usd, key_spend.get(key.key_id)),
                )
            )
        team_rows = []
        for team_id in sorted(set(known) | set(by_team)):
            items = by_team.get(team_id, [])
            today_tally = UsageCounts.total(i for i in items if i.day == today_text)
            team = known.get(team_id)
            team_rows.append(
                TeamUsageSummary(
                    team=team_id,
                    requests_today=today_tally.requests,
                    tokens_today=today_tally.total_tokens,
                    estimated_cost_usd=micros_to_usd(today_tally.cost_micros),
                    today=usage_totals(today_tally),
                    month_to_date=usage_totals(UsageCounts.total(items)),
                    budget=budget(
                        None if team is None else team.monthly_budget_usd, team_spend.get(team_id)
                    ),
                )
            )
        org_today = UsageCounts.total(i for i in every_item if i.day == today_text)
        return UsageSummary(
            date=today,
            month=month,
            resets_at=resets_at,
            usage_by_key=sorted(key_rows, key=lambda row: (row.key_name, row.key_id)),
            usage_by_team=team_rows,
            organization=None
            if teams is not None
            else OrganizationUsageSummary(
                requests_today=org_today.requests,
                tokens_today=org_today.total_tokens,
                estimated_cost_usd=micros_to_usd(org_today.cost_micros),
                today=usage_totals(org_today),
                month_to_date=usage_totals(UsageCounts.total(every_item)),
                budget=budget(self.org_cap_usd, org_spend),
            ),
        )

    def history(
        self,
        *,
        start: date,
        end: date,
        bucket: Bucket,
        group_by: Sequence[GroupBy],
        key_id: str | None = None,
        team: str | None = None,
        model: str | None = None,
        teams: Collection[str] | None = None,
    ) -> UsageHistory:
        """Usage from ``start`` to ``end`` (UTC days, inclusive) in day or month buckets,
        grouped by any of key, team and model; filtered by key, team or model. ``teams``: a
        team-scoped caller's, the only teams whose usage is counted."""
        if start > end:
            raise GatewayError(
                400, "start must not be after end.", code="invalid_value", param="start"
            )
        if (end - start).days >= RETENTION_DAYS:
            raise GatewayError(
                400,
                f"The range may span at most {RETENTION_DAYS} days (how long daily usage is kept).",
                code="invalid_value",
                param="start",
            )
        first, last = start.isoformat(), end.isoformat()
        names: dict[str, str] = {}
        if key_id is not None:
            key = self.store.keys.get(key_id)
            if key is None:
                raise GatewayError(404, f"No API key with id '{key_id}'.", code="not_found")
            names[key.key_id] = key.name
            items = list(self.store.usage.for_key(key_id, first, last))
        else:
            # Every key's (a team's usage too: metering items carry the team the key was in
            # when it used them, and are not indexed by team, so that writing them costs one
            # write unit; filtered below).
            keys = list(self.store.keys.list_all())
            names = {k.key_id: k.name for k in keys}
            with ThreadPoolExecutor(MAX_CONCURRENT_READS) as pool:
                pages = pool.map(
                    lambda k: list(self.store.usage.for_key(k.key_id, first, last)), keys
                )
                items = [item for page in pages for item in page]
        if team is not None:
            items = [i for i in items if i.team_id == team]
        if teams is not None:
            items = [i for i in items if i.team_id in teams]
        if model is not None:
            items = [i for i in items if i.model == model]

        ranges = bucket_ranges(start, end, bucket)
        groups: dict[str, dict[GroupKey, UsageCounts]] = {low.isoformat(): {} for low, _ in ranges}
        for item in items:
            # The bucket's first day: the item's own day, or its month's first within range.
            first_day = item.day if bucket == "day" else max(first, f"{item.day[:7]}-01")
            group, grouped_by = groups[first_day], group_key(item, group_by)
            group[grouped_by] = group.get(grouped_by, UsageCounts()) + item
        data = []
        for bucket_start, bucket_end in ranges:
            tallies = groups[bucket_start.isoformat()]
            results = [
                usage_result(
                    counts,
                    group_id,
                    None if group_id is None else names.get(group_id),
                    group_team,
                    group_model,
                )
                for (group_id, group_team, group_model), counts in sorted(
                    tallies.items(), key=lambda pair: tuple(part or "" for part in pair[0])
                )
            ]
            data.append(UsageBucket(start=bucket_start, end=bucket_end, results=results))
        return UsageHistory(start=start, end=end, bucket=bucket, group_by=list(group_by), data=data)
