"""One request's metrics and log fields, written after its response as ONE line on stdout: a
CloudWatch embedded-metric-format (EMF) document whose other members are the log fields.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from groq_gateway.core.metric_names import Dimension, MetricName
from groq_gateway.core.observability import NAMESPACE, SERVICE, logger

# Units are given only where an alarm reads the series (an alarm on a metric published under two
# units is undefined while both are in its window); elsewhere EMF's default, "None", saves bytes.
_COUNT: dict[str, str] = {"Unit": "Count"}
# Every request counts in Requests with the service dimension alone (what the 5xx alarm divides
# by). A forwarded one also counts its tokens and latencies, in the same directive: with a model,
# under both dimension sets, service alone (the latency widget) and model + service (the
# dashboard's per-model SEARCH widgets), so each value is written once (docs/performance.md#logs).
# A request never forwarded has no tokens or latencies to count.
_REQUESTS: dict[str, str] = {"Name": MetricName.REQUESTS, **_COUNT}
_FORWARDED: tuple[dict[str, str], ...] = (
    {"Name": MetricName.PROMPT_TOKENS},
    {"Name": MetricName.COMPLETION_TOKENS},
    {"Name": MetricName.UPSTREAM_LATENCY_MS},
    {"Name": MetricName.GATEWAY_OVERHEAD_MS},
)
_SERVICE_ONLY: list[list[str]] = [[Dimension.SERVICE]]
_WITH_MODEL: list[list[str]] = [[Dimension.SERVICE], [Dimension.MODEL, Dimension.SERVICE]]
_BY_REASON: list[list[str]] = [[Dimension.REASON, Dimension.SERVICE]]


@dataclass
class RequestTelemetry:
    """One line a request (:meth:`document`): metric directives with bounded dimensions,
    ``service`` only (``Requests``; once forwarded, tokens and latencies; and ``Gateway5xx``,
    ``Upstream429``, ``Upstream5xx`` when not zero: what the alarms watch), ``service`` +
    ``model`` (a forwarded request's ``Requests``, tokens and latencies, in the same directive),
    ``service`` + ``reason`` (``Rejections``); the metric members double as the log's counts and
    timings. At the INFO log level the line also carries ids, path and status, never a key, a
    prompt or a completion. The cost is not in the line: metering (DynamoDB, the admin API's
    usage) is where it is read. ``total_ms`` runs to the response's last byte,
    ``after_response_ms`` from there to the line (billed, not waited for). An exception the
    pipeline did not answer itself (:meth:`failed`) is the 500 that ``core/web.py`` answers, and
    counts in ``Gateway5xx``. ``cost_micros`` stays settable (settlement sets it) but is not
    written."""

    path: str
    key_id: str | None = None
    team_id: str | None = None
    model: str | None = None
    status: int = 0
    rejection: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0
    estimated: bool = False
    upstream_attempts: int = 0
    upstream_429: int = 0
    upstream_5xx: int = 0
    upstream_ms: float | None = None
    total_ms: float = 0.0  # to the response's last byte
    extra: dict[str, object] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    # The type of an exception the pipeline did not answer itself (a gateway bug).
    internal_error: str | None = None

    @property
    def overhead_ms(self) -> float | None:
        return None if self.upstream_ms is None else max(0.0, self.total_ms - self.upstream_ms)

    def failed(self, error: Exception) -> None:
        """Record an unanswered exception: the client gets ``core/web.py``'s 500."""
        self.status = 500
        self.internal_error = type(error).__name__
        self.total_ms = (time.perf_counter() - self.started) * 1000

    async def publish_async(self) -> None:
        """:meth:`publish`, as after-response work."""
        self.publish()

    @property
    def after_response_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started) * 1000 - self.total_ms)

    def publish(self) -> None:
        """Print :meth:`document` as one compact JSON line (as Powertools prints its metrics)."""
        with_log_fields = logging.getLogger(logger.name).isEnabledFor(logging.INFO)
        print(json.dumps(self.document(with_log_fields), separators=(",", ":")))

    def document(self, with_log_fields: bool = True) -> dict[str, object]:
        """The EMF document: ``_aws`` first, then the dimension and metric members, then (when
        ``with_log_fields``) the log fields, each left out when it says nothing (``None``,
        zero, one attempt)."""
        forwarded = self.upstream_ms is not None
        by_model = bool(self.model) and forwarded
        definitions: list[dict[str, str]] = [_REQUESTS]
        directives: list[dict[str, object]] = [
            self._directive(_WITH_MODEL if by_model else _SERVICE_ONLY, definitions)
        ]
        members: dict[str, object] = {Dimension.SERVICE: SERVICE}
        if by_model:
            members[Dimension.MODEL] = self.model
        members[MetricName.REQUESTS] = 1
        if self.upstream_ms is not None and self.overhead_ms is not None:
            definitions += _FORWARDED
            members |= {
                MetricName.PROMPT_TOKENS: self.prompt_tokens,
                MetricName.COMPLETION_TOKENS: self.completion_tokens,
                MetricName.UPSTREAM_LATENCY_MS: round(self.upstream_ms, 1),
                MetricName.GATEWAY_OVERHEAD_MS: round(self.overhead_ms, 1),
            }
        counters = self._health_counters()
        if counters:
            # Alarm series: service alone (a per-model copy would be a series nothing reads).
            counted = [{"Name": name, **_COUNT} for name in counters]
            if by_model:
                directives.append(self._directive(_SERVICE_ONLY, counted))
            else:
                definitions += counted
            members |= counters
        if self.rejection:
            directives.append(self._directive(_BY_REASON, [{"Name": MetricName.REJECTIONS}]))
            members |= {Dimension.REASON: self.rejection, MetricName.REJECTIONS: 1}
        document: dict[str, object] = {
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives},
            **members,
        }
        if with_log_fields:
            document |= self._log_fields(forwarded)
        return document

    def _log_fields(self, forwarded: bool) -> dict[str, object]:
        fields: dict[str, object] = {"path": self.path}
        optional = {
            # A model asked for but never forwarded to is no dimension: logged only.
            "model": None if forwarded else self.model,
            "key_id": self.key_id,
            "team_id": self.team_id,
            "estimated": self.estimated or None,
            "upstream_attempts": self.upstream_attempts if self.upstream_attempts > 1 else None,
            "error_type": self.internal_error,
        }
        fields |= {name: value for name, value in optional.items() if value is not None}
        fields["status"] = self.status
        if not forwarded:  # otherwise UpstreamLatencyMs + GatewayOverheadMs
            fields["total_ms"] = round(self.total_ms, 1)
        fields["after_response_ms"] = round(self.after_response_ms, 1)
        return fields | self.extra

    @staticmethod
    def _directive(dimensions: list[list[str]], metrics: list[dict[str, str]]) -> dict[str, object]:
        return {"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": metrics}

    def _health_counters(self) -> dict[str, int]:
        """The alarm counters that are not zero: an absent one counts as nothing (the 5xx alarm
        fills it with 0, the 429 alarm treats missing data as not breaching)."""
        counters = {
            MetricName.GATEWAY_5XX: int(self._gateway_failed),
            MetricName.UPSTREAM_429: self.upstream_429,
            MetricName.UPSTREAM_5XX: self.upstream_5xx,
        }
        return {name: value for name, value in counters.items() if value}

    @property
    def _gateway_failed(self) -> bool:
        """A 5xx the gateway itself produced (not one passed through from Groq)."""
        if self.internal_error is not None:
            return True
        return self.status >= 500 and self.upstream_ms is None
