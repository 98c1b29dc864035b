"""One request's metrics (CloudWatch embedded-metric-format on stdout) and log line, written
after its response.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from groq_gateway.core.metric_names import Dimension, MetricName
from groq_gateway.core.money import micros_to_usd
from groq_gateway.core.observability import NAMESPACE, SERVICE, logger


@dataclass
class RequestTelemetry:
    """At most three metric documents a request, with bounded dimensions: ``service`` only
    (``Requests``, tokens, ``CostUSD``, latencies, ``Gateway5xx``, ``Upstream429``,
    ``Upstream5xx``: what the alarms watch), ``service`` + ``model`` (requests, tokens, cost),
    ``service`` + ``reason`` (``Rejections``). The log line carries ids, model, status, counts
    and timings, never a key, a prompt or a completion; ``total_ms`` runs to the response's
    last byte, ``after_response_ms`` from there to the log line (billed, not waited for).
    An exception the pipeline did not answer itself (:meth:`failed`) is the 500 that
    ``core/web.py`` answers, and counts in ``Gateway5xx``."""

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
        self._metrics()
        logger.info(
            "request",
            extra={
                "path": self.path,
                "key_id": self.key_id,
                "team_id": self.team_id,
                "model": self.model,
                "status": self.status,
                "rejection": self.rejection,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_micros": self.cost_micros,
                "estimated": self.estimated,
                "upstream_attempts": self.upstream_attempts,
                "upstream_ms": self.upstream_ms,
                "overhead_ms": self.overhead_ms,
                "total_ms": round(self.total_ms, 2),
                "after_response_ms": round(self.after_response_ms, 2),
                **({"error_type": self.internal_error} if self.internal_error else {}),
                **self.extra,
            },
        )

    def _metrics(self) -> None:
        cost_usd = float(micros_to_usd(self.cost_micros))
        overall = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        overall.add_metric(name=MetricName.REQUESTS, unit=MetricUnit.Count, value=1)
        overall.add_metric(
            name=MetricName.PROMPT_TOKENS, unit=MetricUnit.Count, value=self.prompt_tokens
        )
        overall.add_metric(
            name=MetricName.COMPLETION_TOKENS, unit=MetricUnit.Count, value=self.completion_tokens
        )
        overall.add_metric(name=MetricName.COST_USD, unit=MetricUnit.NoUnit, value=cost_usd)
        overall.add_metric(
            name=MetricName.GATEWAY_5XX, unit=MetricUnit.Count, value=int(self._gateway_failed)
        )
        overall.add_metric(
            name=MetricName.UPSTREAM_429, unit=MetricUnit.Count, value=self.upstream_429
        )
        overall.add_metric(
            name=MetricName.UPSTREAM_5XX, unit=MetricUnit.Count, value=self.upstream_5xx
        )
        if self.upstream_ms is not None and self.overhead_ms is not None:
            overall.add_metric(
                name=MetricName.UPSTREAM_LATENCY_MS,
                unit=MetricUnit.Milliseconds,
                value=self.upstream_ms,
            )
            overall.add_metric(
                name=MetricName.GATEWAY_OVERHEAD_MS,
                unit=MetricUnit.Milliseconds,
                value=self.overhead_ms,
            )
        overall.flush_metrics()
        if self.model and self.upstream_ms is not None:
            by_model = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            by_model.add_dimension(name=Dimension.MODEL, value=self.model)
            by_model.add_metric(name=MetricName.REQUESTS, unit=MetricUnit.Count, value=1)
            by_model.add_metric(
                name=MetricName.PROMPT_TOKENS, unit=MetricUnit.Count, value=self.prompt_tokens
            )
            by_model.add_metric(
                name=MetricName.COMPLETION_TOKENS,
                unit=MetricUnit.Count,
                value=self.completion_tokens,
            )
            by_model.add_metric(name=MetricName.COST_USD, unit=MetricUnit.NoUnit, value=cost_usd)
            by_model.flush_metrics()
        if self.rejection:
            by_reason = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            by_reason.add_dimension(name=Dimension.REASON, value=self.rejection)
            by_reason.add_metric(name=MetricName.REJECTIONS, unit=MetricUnit.Count, value=1)
            by_reason.flush_metrics()

    @property
    def _gateway_failed(self) -> bool:
        """A 5xx the gateway itself produced (not one passed through from Groq)."""
        if self.internal_error is not None:
            return True
        return self.status >= 500 and self.upstream_ms is None
