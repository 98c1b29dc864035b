"""The usage poller's run: rollups, budget metrics and actions, model catalogue, events.

Groq has no usage API, so the gateway's own metering is the source of truth. Every run (every
5 minutes by default) does these steps, each on its own:

1. ``catalog``: ``GET /openai/v1/models`` with the upstream key refreshes the model catalogue
   in the table, and Groq's ``x-ratelimit-remaining-*`` headers become headroom metrics.
2. ``directory``: every key and team is read once, for the steps below.
3. ``rollups``: the metering items of the current UTC month (and of the previous one until it
   is closed, a few minutes after midnight on the 1st) are summed per key, team, model and org,
   per day and per month, and every rollup that differs from the stored one is written
   (:mod:`groq_gateway.core.rollups`, :mod:`groq_gateway.store.rollups`).
4. ``budgets``: thresholds, pauses and resumes
   (:mod:`groq_gateway.usage_poller.budget_enforcement`).
5. ``retired-models``: a model that an allowlist or an alias target names and that Groq no
   longer serves raises one ``model_retired`` event (once per model).
6. ``org-leases``: organisation budget leases whose instance never gave them back (it went
   away) are reclaimed once their grace has passed: what they did not use is returned to the
   organisation's cap (:mod:`groq_gateway.core.budget_leases`).
7. ``outbox``: queued events are published to the alerts topic (the notifier and e-mail
   subscribers get them); an event SNS refuses stays queued for the next run.

A step that meets an unreachable Groq, a throttled or unavailable DynamoDB or a refusing SNS is
logged and counted (``PollerStepFailures``), the steps that do not depend on it still run, and
the next run tries again; every write is complete on its own or part of a transaction, so a
failure half-way leaves nothing inconsistent. Any other error is a bug: it fails the
invocation (``PollerFailuresAlarm``). ``PollerRuns`` is published when a run completes; the
missing-data alarm watches it.

Example::

    handle_poll_event({"job": "poll-usage"})
    # {"job": "poll-usage", "models": 9, "rollups_written": 12, "paused": [], ...}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from groq_gateway.alert_outbox import publish_outbox
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.events import MAX_LISTED, ModelRetiredEvent
from groq_gateway.core.metric_names import Dimension, MetricName, MetricsBatch
from groq_gateway.core.money import micros_to_usd
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import (
    day_of,
    month_days,
    month_of,
    month_start,
    previous_month,
    utcnow,
)
from groq_gateway.core.records import DailyUsage, GatewayKey, KeyStatus, Team
from groq_gateway.core.rollups import (
    ORG_ID,
    Period,
    RollupKey,
    RollupScope,
    UsageTotals,
    day_period,
    month_period,
    roll_up,
)
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.secrets_manager import SecretUnavailableError, UpstreamKeys
from groq_gateway.store import ConditionFailedError, GatewayStore, StoreUnavailableError
from groq_gateway.store.notices import NoticeStore
from groq_gateway.store.rollups import RollupStore, StoredRollup
from groq_gateway.usage_poller.budget_enforcement import BudgetOutcome, watch_budgets

HEADROOM_METRICS = {
    "x-ratelimit-remaining-requests": MetricName.UPSTREAM_REMAINING_REQUESTS,
    "x-ratelimit-remaining-tokens": MetricName.UPSTREAM_REMAINING_TOKENS,
}
# How long after a UTC month ends its metering items may still land: a usage item is dated
# when its settlement starts, and a settlement takes seconds at most (DynamoDB retries).
SETTLEMENT_GRACE = timedelta(minutes=2)
# Keys whose metering items are read at once.
USAGE_READERS = 8


class UnexpectedUpstreamAnswerError(Exception):
    """Groq answered ``GET /models`` with something that is not its model list."""


# Failures that are the environment's, not the code's: logged, counted, retried next run.
STEP_FAILURES: tuple[type[Exception], ...] = (
    UnexpectedUpstreamAnswerError,
    StoreUnavailableError,
    httpx.HTTPError,
    SecretUnavailableError,
    GatewayError,
    ClientError,
    BotoCoreError,
)

_Result = TypeVar("_Result")


@dataclass
class PollReport:
    """What one run did; the handler's return value."""

    job: str
    models: int | None = None
    rollups_written: int = 0
    events_queued: int = 0
    events_published: int = 0
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    retired_models: list[str] = field(default_factory=list)
    leases_reclaimed: int = 0
    failed_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MonthToDate:
    """The current UTC month's totals the metrics publish."""

    org: UsageTotals
    teams: dict[str, UsageTotals]


# -- 1. the model catalogue -----------------------------------------------------------------


def refresh_model_catalog(
    settings: Settings, store: GatewayStore, now: datetime, metrics: MetricsBatch
) -> list[str]:
    """Store the models Groq serves now and return them; raises what the step counts."""
    key = UpstreamKeys(settings.upstream_key_secret_id, max_age=60).active_key()
    response = httpx.get(
        f"{settings.upstream_root}/openai/v1/models",
        headers={"authorization": f"Bearer {key}"},
        timeout=10.0,
    )
    response.raise_for_status()
    for header, metric in HEADROOM_METRICS.items():
        value = response.headers.get(header, "")
        if value.isdigit():
            metrics.add(metric, int(value))
    try:
        listing = response.json()
    except ValueError as error:
        raise UnexpectedUpstreamAnswerError("GET /models did not answer JSON") from error
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        raise UnexpectedUpstreamAnswerError("GET /models did not answer a model list")
    models = sorted(
        str(model["id"])
        for model in listing["data"]
        if isinstance(model, dict) and model.get("id") and model.get("active", True)
    )
    store.catalog.put(models, now)
    return models


# -- 3. rollups -----------------------------------------------------------------------------


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


# -- 5. retired models ----------------------------------------------------------------------


@dataclass
class _References:
    keys: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    alias_teams: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.keys) + len(self.teams) + len(self.alias_teams)


def unserved_references(
    served: Sequence[str], keys: Sequence[GatewayKey], teams: Sequence[Team]
) -> dict[str, _References]:
    """Models named by a live key's or a team's allowlist, or by a team's alias target, that
    Groq does not serve. A model a team aliases to another is not reported for that team or
    its keys: requests for it are forwarded as the alias target."""
    available = set(served)
    aliases = {team.team_id: team.model_aliases for team in teams}
    found: dict[str, _References] = {}
    for team in teams:
        for model in team.allowed_models or []:
            if model not in available and model not in team.model_aliases:
                found.setdefault(model, _References()).teams.append(team.team_id)
        for target in set(team.model_aliases.values()) - available:
            found.setdefault(target, _References()).alias_teams.append(team.team_id)
    for key in keys:
        if key.status in (KeyStatus.REVOKED, KeyStatus.EXPIRED):
            continue
        aliased = aliases.get(key.team_id or "", {})
        for model in key.allowed_models or []:
            if model not in available and model not in aliased:
                found.setdefault(model, _References()).keys.append(key.name)
    return found


def report_retired_models(
    notices: NoticeStore,
    served: Sequence[str],
    keys: Sequence[GatewayKey],
    teams: Sequence[Team],
    now: datetime,
) -> list[str]:
    """Queue one ``model_retired`` event per unserved model not reported before."""
    reported = notices.retired_models_notified()
    queued = []
    for model, references in sorted(unserved_references(served, keys, teams).items()):
        if model in reported:
            continue
        event = ModelRetiredEvent(
            model=model,
            keys=references.keys[:MAX_LISTED],
            teams=references.teams[:MAX_LISTED],
            alias_teams=references.alias_teams[:MAX_LISTED],
            references=references.count,
        )
        outbox = notices.outbox_put(event, now)
        try:
            notices.commit([notices.retired_marker(model, now), outbox])
        except ConditionFailedError:
            continue  # another run reported it
        logger.info("model no longer served", extra={"model": model})
        queued.append(model)
    return queued


# -- 6. organisation budget leases ----------------------------------------------------------


def reclaim_org_leases(store: GatewayStore, now: datetime) -> int:
    """Give back what expired leases did not use; returns how many were reclaimed. A lease
    whose use changed since it was read (a late settlement) is left for the next run."""
    leases = store.org_leases
    return sum(1 for lease in leases.expired(now.timestamp()) if leases.give_back(lease))


# -- the run --------------------------------------------------------------------------------


class _Run:
    def __init__(self, report: PollReport) -> None:
        self.report = report

    def step(self, name: str, action: Callable[[], _Result]) -> _Result | None:
        """Run one step; a failure of the environment is logged and counted, not raised."""
        try:
            return action()
        except STEP_FAILURES as error:
            self.failed(name, error)
            return None

    def failed(self, name: str, error: Exception) -> None:
        logger.warning(
            "poller step failed; retried at the next run",
            extra={"step": name, "error_type": type(error).__name__, "error": str(error)},
        )
        self.report.failed_steps.append(name)


def _usage_metrics(metrics: MetricsBatch, month: MonthToDate, teams: Sequence[Team]) -> None:
    metrics.add(MetricName.ORG_MONTH_TO_DATE_SPEND_USD, float(micros_to_usd(month.org.cost_micros)))
    metrics.add(MetricName.ORG_MONTH_TO_DATE_REQUESTS, month.org.requests)
    metrics.add(MetricName.ORG_MONTH_TO_DATE_TOKENS, month.org.total_tokens)
    for team in teams:
        totals = month.teams.get(team.team_id, UsageTotals())
        dimensions = {Dimension.TEAM: team.team_id}
        metrics.add(
            MetricName.TEAM_MONTH_TO_DATE_SPEND_USD,
            float(micros_to_usd(totals.cost_micros)),
            dimensions,
        )
        metrics.add(MetricName.TEAM_MONTH_TO_DATE_REQUESTS, totals.requests, dimensions)
        metrics.add(MetricName.TEAM_MONTH_TO_DATE_TOKENS, totals.total_tokens, dimensions)


def _budget_metrics(metrics: MetricsBatch, budgets: BudgetOutcome) -> None:
    if budgets.org_utilization is not None:
        metrics.add(MetricName.ORG_BUDGET_UTILIZATION_PERCENT, budgets.org_utilization)
    for team_id, percent in budgets.team_utilization.items():
        metrics.add(MetricName.TEAM_BUDGET_UTILIZATION_PERCENT, percent, {Dimension.TEAM: team_id})
    if budgets.team_utilization:
        metrics.add(
            MetricName.MAX_TEAM_BUDGET_UTILIZATION_PERCENT, max(budgets.team_utilization.values())
        )


def poll(settings: Settings, store: GatewayStore, now: datetime, job: str) -> PollReport:
    """One run of every step (see the module); metrics are written when it ends."""
    report = PollReport(job=job)
    run = _Run(report)
    metrics = MetricsBatch()
    rollups, notices = store.rollups, store.notices
    try:
        served = run.step("catalog", lambda: refresh_model_catalog(settings, store, now, metrics))
        report.models = None if served is None else len(served)
        directory = run.step(
            "directory", lambda: (list(store.keys.list_all()), list(store.teams.list_all()))
        )
        if directory is not None:
            keys, teams = directory
            month = run.step("rollups", lambda: roll_up_usage(store, rollups, keys, now))
            if month is not None:
                totals, report.rollups_written = month
                _usage_metrics(metrics, totals, teams)
            budgets = run.step(
                "budgets", lambda: watch_budgets(settings, store, notices, keys, teams, now)
            )
            if budgets is not None:
                _budget_metrics(metrics, budgets)
                report.paused, report.resumed = budgets.paused, budgets.resumed
                report.events_queued += budgets.events_queued
            if served is not None:
                retired = run.step(
                    "retired-models",
                    lambda: report_retired_models(notices, served, keys, teams, now),
                )
                report.retired_models = retired or []
                report.events_queued += len(report.retired_models)
        reclaimed = run.step("org-leases", lambda: reclaim_org_leases(store, now))
        report.leases_reclaimed = reclaimed or 0
        outbox = run.step("outbox", lambda: publish_outbox(settings, notices, now))
        if outbox is not None:
            report.events_published = outbox.published
            if outbox.refusal is not None:
                run.failed("outbox", outbox.refusal)
        metrics.add(MetricName.NOTIFICATIONS_PUBLISHED, report.events_published)
        metrics.add(MetricName.POLLER_STEP_FAILURES, len(report.failed_steps))
        metrics.add(MetricName.POLLER_RUNS, 1)
    finally:
        metrics.flush()
    return report


def handle_poll_event(
    event: dict[str, Any],
    *,
    settings: Settings | None = None,
    store: GatewayStore | None = None,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    """The scheduled event's entry point (``events/usage-poll-schedule.json``)."""
    settings = settings or get_settings()
    store = store or GatewayStore(settings.table_name)
    return poll(settings, store, now(), str(event.get("job", "poll-usage"))).as_dict()
