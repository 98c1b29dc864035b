"""The poller's unpriced-models step: one ``unpriced_model_used`` event per model the month's
metering charged at the fallback price and that still has no price (once per model), and the
count of catalogue models without a price (``UnpricedCatalogModels``, with their names in the
log and the run's report). See docs/operations.md#setting-a-price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from groq_gateway.core.events import UnpricedModelUsedEvent
from groq_gateway.core.metric_names import MetricName, MetricsBatch
from groq_gateway.core.money import micros_to_usd
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import month_of
from groq_gateway.core.pricing import PriceBook, PriceKind
from groq_gateway.core.rollups import RollupScope, month_period
from groq_gateway.core.settings import Settings
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.notices import ModelNotice


@dataclass
class UnpricedModels:
    """What the step found: models reported now (first use), catalogue models without a price."""

    reported: list[str] = field(default_factory=list)
    catalogue: list[str] = field(default_factory=list)


def effective_prices(settings: Settings, store: GatewayStore) -> PriceBook:
    """The prices the proxy applies: the deployment's, the operator's over them."""
    deployment = PriceBook.load(
        fallback=settings.unpriced_fallback_prices, policy=settings.unpriced_models
    )
    operator = store.prices.all(consistent=True)
    return deployment.with_operator_prices({m: stored.price for m, stored in operator.items()})


def has_any_price(book: PriceBook, model: str) -> bool:
    return any(book.is_priced(model, kind) for kind in PriceKind)


def report_unpriced_models(
    settings: Settings,
    store: GatewayStore,
    served: Sequence[str] | None,
    now: datetime,
    metrics: MetricsBatch,
) -> UnpricedModels:
    """Queue an event for each model first charged unpriced this month (from the month's
    per-model rollups, written by the rollup step just before) and count the catalogue's
    models without a price (``served``: None when the catalogue step failed)."""
    book = effective_prices(settings, store)
    found = UnpricedModels()
    if served is not None:
        found.catalogue = sorted(model for model in served if not has_any_price(book, model))
        metrics.add(MetricName.UNPRICED_CATALOG_MODELS, len(found.catalogue))
        if found.catalogue:
            logger.info("catalogue models without a price", extra={"models": found.catalogue})
    month = month_of(now)
    used = {
        rollup.key.scope_id: rollup.totals
        for rollup in store.rollups.for_period(month_period(month), RollupScope.MODEL)
        if rollup.totals.unpriced_requests > 0
    }
    notices = store.notices
    notified = notices.models_notified(ModelNotice.UNPRICED)
    for model, totals in sorted(used.items()):
        if model in notified or has_any_price(book, model):
            continue  # reported before, or priced since
        event = UnpricedModelUsedEvent(
            model=model,
            requests=totals.unpriced_requests,
            charged_usd=micros_to_usd(totals.cost_micros),
            period=month,
        )
        try:
            marker = notices.model_marker(ModelNotice.UNPRICED, model, now)
            notices.commit([marker, notices.outbox_put(event, now)])
        except ConditionFailedError:
            continue  # another run reported it
        logger.info("unpriced model used", extra={"model": model})
        found.reported.append(model)
    return found
