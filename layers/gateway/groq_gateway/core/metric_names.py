"""The one catalogue of the custom CloudWatch metrics the gateway emits, and their dimensions.

Code emits metrics only by these names; template.yaml's alarms and dashboard read them
(tests/unit/core/test_metric_catalogue.py checks both). See docs/architecture.md#metrics.

Example::

    batch = MetricsBatch()  # catalogued series only, each with the catalogue's unit
    batch.add(MetricName.TEAM_BUDGET_UTILIZATION_PERCENT, 80, {Dimension.TEAM: "chatbot"})
    batch.flush()  # one EMF document per set of dimensions
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from groq_gateway.core.observability import NAMESPACE, SERVICE


class Dimension(StrEnum):
    """The dimension names metrics carry."""

    SERVICE = "service"
    MODEL = "model"
    REASON = "reason"
    TEAM = "team"


class MetricName(StrEnum):
    """Every custom metric name the gateway emits."""

    # Proxy, per request (proxy/telemetry.py).
    REQUESTS = "Requests"
    PROMPT_TOKENS = "PromptTokens"
    COMPLETION_TOKENS = "CompletionTokens"
    UPSTREAM_LATENCY_MS = "UpstreamLatencyMs"
    GATEWAY_OVERHEAD_MS = "GatewayOverheadMs"
    GATEWAY_5XX = "Gateway5xx"
    UPSTREAM_429 = "Upstream429"
    UPSTREAM_5XX = "Upstream5xx"
    REJECTIONS = "Rejections"
    # Usage poller, per run (usage_poller.py).
    POLLER_RUNS = "PollerRuns"
    POLLER_STEP_FAILURES = "PollerStepFailures"
    UPSTREAM_REMAINING_REQUESTS = "UpstreamRemainingRequests"
    UPSTREAM_REMAINING_TOKENS = "UpstreamRemainingTokens"
    NOTIFICATIONS_PUBLISHED = "NotificationsPublished"
    UNPRICED_CATALOG_MODELS = "UnpricedCatalogModels"
    ORG_MONTH_TO_DATE_SPEND_USD = "OrgMonthToDateSpendUSD"
    ORG_MONTH_TO_DATE_REQUESTS = "OrgMonthToDateRequests"
    ORG_MONTH_TO_DATE_TOKENS = "OrgMonthToDateTokens"
    ORG_BUDGET_UTILIZATION_PERCENT = "OrgBudgetUtilizationPercent"
    MAX_TEAM_BUDGET_UTILIZATION_PERCENT = "MaxTeamBudgetUtilizationPercent"
    TEAM_MONTH_TO_DATE_SPEND_USD = "TeamMonthToDateSpendUSD"
    TEAM_MONTH_TO_DATE_REQUESTS = "TeamMonthToDateRequests"
    TEAM_MONTH_TO_DATE_TOKENS = "TeamMonthToDateTokens"
    TEAM_BUDGET_UTILIZATION_PERCENT = "TeamBudgetUtilizationPercent"
    # Rotation (rotation.py, upstream_rotation.py).
    KEYS_EXPIRED = "KeysExpired"
    KEYS_ROTATED = "KeysRotated"
    SECRETS_RETIRED = "SecretsRetired"
    ROTATION_FAILURES = "RotationFailures"
    # Notifier (notifier.py).
    NOTIFICATIONS_DELIVERED = "NotificationsDelivered"


@dataclass(frozen=True)
class MetricSeries:
    """One metric name with the exact set of dimensions it is emitted with."""

    name: MetricName
    dimensions: frozenset[Dimension]
    unit: MetricUnit
    # The module, or package ending in /, below groq_gateway/ that emits it.
    emitted_by: str
    meaning: str


_SERVICE: Final = frozenset({Dimension.SERVICE})
_BY_MODEL: Final = frozenset({Dimension.SERVICE, Dimension.MODEL})
_BY_REASON: Final = frozenset({Dimension.SERVICE, Dimension.REASON})
_BY_TEAM: Final = frozenset({Dimension.SERVICE, Dimension.TEAM})
# The proxy gives a unit only to what an alarm reads (proxy/telemetry.py says why). It writes a
# forwarded request's metrics in one directive, so with a model each is per model as well; the
# cost is metered (DynamoDB), not a metric: nothing in template.yaml read the CostUSD it was.
_COUNT, _NONE, _PERCENT = (MetricUnit.Count, MetricUnit.NoUnit, MetricUnit.Percent)
_PROXY, _POLLER = "proxy/telemetry.py", "usage_poller/"


def _series(
    name: MetricName,
    dimensions: frozenset[Dimension],
    unit: MetricUnit,
    emitted_by: str,
    meaning: str,
) -> MetricSeries:
    return MetricSeries(name, dimensions, unit, emitted_by, meaning)


CATALOGUE: Final[tuple[MetricSeries, ...]] = (
    _series(MetricName.REQUESTS, _SERVICE, _COUNT, _PROXY, "requests the proxy answered"),
    _series(MetricName.PROMPT_TOKENS, _SERVICE, _NONE, _PROXY, "prompt tokens metered"),
    _series(MetricName.COMPLETION_TOKENS, _SERVICE, _NONE, _PROXY, "completion tokens"),
    _series(MetricName.UPSTREAM_LATENCY_MS, _SERVICE, _NONE, _PROXY, "time spent waiting on Groq"),
    _series(MetricName.GATEWAY_OVERHEAD_MS, _SERVICE, _NONE, _PROXY, "time the gateway added"),
    _series(MetricName.GATEWAY_5XX, _SERVICE, _COUNT, _PROXY, "5xx the gateway produced"),
    _series(MetricName.UPSTREAM_429, _SERVICE, _COUNT, _PROXY, "429 answers from Groq"),
    _series(MetricName.UPSTREAM_5XX, _SERVICE, _COUNT, _PROXY, "5xx answers from Groq"),
    _series(MetricName.REQUESTS, _BY_MODEL, _COUNT, _PROXY, "forwarded requests per model"),
    _series(MetricName.PROMPT_TOKENS, _BY_MODEL, _NONE, _PROXY, "prompt tokens per model"),
    _series(MetricName.COMPLETION_TOKENS, _BY_MODEL, _NONE, _PROXY, "completion tokens/model"),
    _series(MetricName.UPSTREAM_LATENCY_MS, _BY_MODEL, _NONE, _PROXY, "Groq's time per model"),
    _series(MetricName.GATEWAY_OVERHEAD_MS, _BY_MODEL, _NONE, _PROXY, "overhead per model"),
    _series(MetricName.REJECTIONS, _BY_REASON, _NONE, _PROXY, "requests refused, by reason"),
    _series(MetricName.POLLER_RUNS, _SERVICE, _COUNT, _POLLER, "completed poller runs"),
    _series(
        MetricName.POLLER_STEP_FAILURES,
        _SERVICE,
        _COUNT,
        _POLLER,
        "poller steps that failed (Groq unreachable, DynamoDB throttled, SNS refused); "
        "each is retried at the next run",
    ),
    _series(
        MetricName.UPSTREAM_REMAINING_REQUESTS,
        _SERVICE,
        _COUNT,
        _POLLER,
        "Groq's x-ratelimit-remaining-requests (per day, organisation-wide)",
    ),
    _series(
        MetricName.UPSTREAM_REMAINING_TOKENS,
        _SERVICE,
        _COUNT,
        _POLLER,
        "Groq's x-ratelimit-remaining-tokens (per minute, organisation-wide)",
    ),
    _series(
        MetricName.NOTIFICATIONS_PUBLISHED,
        _SERVICE,
        _COUNT,
        _POLLER,
        "gateway events published to the alerts topic",
    ),
    _series(
        MetricName.UNPRICED_CATALOG_MODELS,
        _SERVICE,
        _COUNT,
        _POLLER,
        "models Groq serves that have no price in the gateway (charged at the fallback price)",
    ),
    _series(
        MetricName.ORG_MONTH_TO_DATE_SPEND_USD,
        _SERVICE,
        _NONE,
        _POLLER,
        "metered spend this UTC month, every key",
    ),
    _series(
        MetricName.ORG_MONTH_TO_DATE_REQUESTS,
        _SERVICE,
        _COUNT,
        _POLLER,
        "metered requests this UTC month",
    ),
    _series(
        MetricName.ORG_MONTH_TO_DATE_TOKENS,
        _SERVICE,
        _COUNT,
        _POLLER,
        "metered tokens this UTC month",
    ),
    _series(
        MetricName.ORG_BUDGET_UTILIZATION_PERCENT,
        _SERVICE,
        _PERCENT,
        _POLLER,
        "organisation spend this billing month as a whole percent of OrgMonthlyCapUSD",
    ),
    _series(
        MetricName.MAX_TEAM_BUDGET_UTILIZATION_PERCENT,
        _SERVICE,
        _PERCENT,
        _POLLER,
        "the highest budget utilisation of any team with a budget",
    ),
    _series(
        MetricName.TEAM_MONTH_TO_DATE_SPEND_USD,
        _BY_TEAM,
        _NONE,
        _POLLER,
        "a team's metered spend this UTC month",
    ),
    _series(
        MetricName.TEAM_MONTH_TO_DATE_REQUESTS,
        _BY_TEAM,
        _COUNT,
        _POLLER,
        "a team's metered requests this UTC month",
    ),
    _series(
        MetricName.TEAM_MONTH_TO_DATE_TOKENS,
        _BY_TEAM,
        _COUNT,
        _POLLER,
        "a team's metered tokens this UTC month",
    ),
    _series(
        MetricName.TEAM_BUDGET_UTILIZATION_PERCENT,
        _BY_TEAM,
        _PERCENT,
        _POLLER,
        "a team's spend this billing month as a whole percent of its budget",
    ),
    _series(MetricName.KEYS_EXPIRED, _SERVICE, _COUNT, "rotation/run.py", "keys marked expired"),
    _series(
        MetricName.KEYS_ROTATED, _SERVICE, _COUNT, "rotation/run.py", "keys rotated on schedule"
    ),
    _series(
        MetricName.SECRETS_RETIRED, _SERVICE, _COUNT, "rotation/run.py", "replaced secrets retired"
    ),
    _series(
        MetricName.ROTATION_FAILURES,
        _SERVICE,
        _COUNT,
        "rotation/",
        "upstream key rotations that could not complete",
    ),
    _series(
        MetricName.NOTIFICATIONS_DELIVERED,
        _SERVICE,
        _COUNT,
        "notifier/webhook.py",
        "alerts posted to the chat webhook",
    ),
)


def series_of(name: str, dimensions: Iterable[str]) -> MetricSeries | None:
    """The catalogue's series with exactly this name and these dimension names, if any.

    Example::

        series_of("PollerRuns", ["service"])  # MetricSeries(name=MetricName.POLLER_RUNS, ...)
        series_of("PollerRuns", ["service", "team"])  # None: never emitted that way
    """
    wanted = frozenset(dimensions)
    for series in CATALOGUE:
        if series.name == name and series.dimensions == wanted:
            return series
    return None


class MetricsBatch:
    """Catalogued metrics collected during a run and written as EMF documents at its end.

    Only series in :data:`CATALOGUE` are accepted (a ``ValueError`` otherwise), with the unit
    the catalogue gives them; ``service`` is always added.
    """

    def __init__(self) -> None:
        self._documents: dict[
            tuple[tuple[Dimension, str], ...], list[tuple[MetricName, MetricUnit, float]]
        ] = defaultdict(list)

    def add(
        self, name: MetricName, value: float, dimensions: Mapping[Dimension, str] | None = None
    ) -> None:
        extra = dict(dimensions or {})
        series = series_of(name, {Dimension.SERVICE, *extra})
        if series is None:
            raise ValueError(f"{name} with dimensions {sorted(extra)} is not in the catalogue")
        self._documents[tuple(sorted(extra.items()))].append((name, series.unit, value))

    def flush(self) -> None:
        """Print every collected metric (one EMF document per dimension set) and forget them."""
        for dimensions, entries in self._documents.items():
            document = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            for dimension, value in dimensions:
                document.add_dimension(name=dimension, value=value)
            for name, unit, number in entries:
                document.add_metric(name=name, unit=unit, value=number)
            document.flush_metrics()
        self._documents.clear()
