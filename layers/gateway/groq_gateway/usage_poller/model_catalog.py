"""The poller's catalogue step: the models Groq serves (``GET /openai/v1/models``) stored in
the table, and Groq's rate-limit headroom as metrics. See docs/architecture.md."""

from __future__ import annotations

from datetime import datetime

import httpx

from groq_gateway.core.metric_names import MetricName, MetricsBatch
from groq_gateway.core.settings import Settings
from groq_gateway.secrets_manager import UpstreamKeys
from groq_gateway.store import GatewayStore

HEADROOM_METRICS = {
    "x-ratelimit-remaining-requests": MetricName.UPSTREAM_REMAINING_REQUESTS,
    "x-ratelimit-remaining-tokens": MetricName.UPSTREAM_REMAINING_TOKENS,
}


class UnexpectedUpstreamAnswerError(Exception):
    """Groq answered ``GET /models`` with something that is not its model list."""


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
