"""The usage poller's run: what it can learn from Groq, and its own heartbeat.

Groq has no usage API; the gateway's metering is the source of truth for spend. What Groq
does offer is polled here: ``GET /openai/v1/models`` refreshes the model catalogue kept in
the table, and the ``x-ratelimit-remaining-*`` headers of that answer become headroom
metrics. ``PollerRuns`` is published on every run; the missing-data alarm watches it.

An unreachable upstream is logged and counted, and the next run tries again.

Example::

    handle_poll_event({"job": "poll-usage"})
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from groq_gateway.models import utcnow
from groq_gateway.observability import logger, metrics
from groq_gateway.secrets import UpstreamKeys
from groq_gateway.settings import Settings, get_settings
from groq_gateway.store import GatewayStore

HEADROOM_METRICS = {
    "x-ratelimit-remaining-requests": "UpstreamRemainingRequests",
    "x-ratelimit-remaining-tokens": "UpstreamRemainingTokens",
}


def refresh_model_catalog(settings: Settings, store: GatewayStore, now: datetime) -> int | None:
    """Store the models Groq serves now; returns how many, or ``None`` if Groq was unreachable."""
    key = UpstreamKeys(settings.upstream_key_secret_id, max_age=60).active_key()
    try:
        response = httpx.get(
            f"{settings.upstream_root}/openai/v1/models",
            headers={"authorization": f"Bearer {key}"},
            timeout=10.0,
        )
        response.raise_for_status()
    except httpx.HTTPError as error:
        logger.warning("upstream poll failed", extra={"error_type": type(error).__name__})
        metrics.add_metric(name="UpstreamPollFailures", unit="Count", value=1)
        return None
    for header, metric in HEADROOM_METRICS.items():
        value = response.headers.get(header, "")
        if value.isdigit():
            metrics.add_metric(name=metric, unit="Count", value=int(value))
    models = sorted(
        str(model["id"])
        for model in response.json().get("data", [])
        if isinstance(model, dict) and model.get("id") and model.get("active", True)
    )
    store.catalog.put(models, now)
    return len(models)


def handle_poll_event(
    event: dict[str, Any],
    *,
    settings: Settings | None = None,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    settings = settings or get_settings()
    store = GatewayStore(settings.table_name)
    models = refresh_model_catalog(settings, store, now())
    metrics.add_metric(name="PollerRuns", unit="Count", value=1)
    return {"job": event.get("job", "poll-usage"), "models": models}
