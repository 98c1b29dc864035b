"""The usage poller's scheduled run: catalogue, rollups, budgets, retired and unpriced models, lease
reclaim and the outbox, each step on its own; its report and metrics. See docs/architecture.md.

Example::

    handle_poll_event({"job": "poll-usage"})
    # {"job": "poll-usage", "models": 9, "rollups_written": 12, "paused": [], ...}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from groq_gateway.alert_outbox import publish_outbox
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.metric_names import Dimension, MetricName, MetricsBatch
from groq_gateway.core.money import micros_to_usd
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import Team, UsageCounts
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.secrets_manager import SecretUnavailableError
from groq_gateway.store import GatewayStore, StoreUnavailableError
from groq_gateway.usage_poller.batch_settlement import settle_ended_batches
from groq_gateway.usage_poller.budget_enforcement import BudgetOutcome, watch_budgets
from groq_gateway.usage_poller.counter_migration import carry_earlier_months
from groq_gateway.usage_poller.lease_reclaim import reclaim_org_leases
from groq_gateway.usage_poller.model_catalog import (
    UnexpectedUpstreamAnswerError,
    refresh_model_catalog,
)
from groq_gateway.usage_poller.retired_models import report_retired_models
from groq_gateway.usage_poller.rollups import MonthToDate, roll_up_usage
from groq_gateway.usage_poller.unpriced_models import effective_prices, report_unpriced_models

# Failures that are the environment's, not the code's: logged, counted
# (PollerStepFailures) and retried by the next run, while the steps that do not depend on the
# failed one still run. Any other error is a bug and fails the invocation.
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
    # Models first reported as used without a price; catalogue models without a price.
    unpriced_models: list[str] = field(default_factory=list)
    unpriced_catalog_models: list[str] = field(default_factory=list)
    leases_reclaimed: int = 0
    batches_metered: int = 0
    months_carried: int = 0
    failed_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        totals = month.teams.get(team.team_id, UsageCounts())
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
    """One run of every step: catalog, directory (every key and team, read once), rollups,
    budgets, retired-models, org-leases, outbox. Metrics are written when it ends."""
    report = PollReport(job=job)
    run = _Run(report)
    metrics = MetricsBatch()
    rollups, notices = store.rollups, store.notices
    try:
        served = run.step("catalog", lambda: refresh_model_catalog(settings, store, now, metrics))
        report.models = None if served is None else len(served)
        # Before the rollups, so that they count what the batches that ended used.
        batches = run.step(
            "batches",
            lambda: settle_ended_batches(settings, store, effective_prices(settings, store), now),
        )
        report.batches_metered = batches or 0
        directory = run.step(
            "directory", lambda: (list(store.keys.list_all()), list(store.teams.list_all()))
        )
        if directory is not None:
            keys, teams = directory
            # Before the budgets: a deployment upgraded this month keeps what it spent.
            carried = run.step(
                "counter-migration",
                lambda: carry_earlier_months(store, keys, teams, now, settings.billing_tz),
            )
            report.months_carried = carried or 0
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
            unpriced = run.step(
                "unpriced-models",
                lambda: report_unpriced_models(settings, store, served, now, metrics),
            )
            if unpriced is not None:
                report.unpriced_models = unpriced.reported
                report.unpriced_catalog_models = unpriced.catalogue
                report.events_queued += len(unpriced.reported)
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
