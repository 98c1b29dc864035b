"""Prices: the effective price of every priced model with its source, and the operator's own
prices set and deleted, each change audited. The proxy and the usage poller read the
operator's prices from the table (docs/operations.md#setting-a-price)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from groq_gateway.admin.services.common import retry_or_conflict
from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.periods import utcnow
from groq_gateway.core.pricing import (
    EffectivePrice,
    ModelPrice,
    OperatorPrice,
    PriceBook,
    PriceKind,
)
from groq_gateway.core.records import AuditAction
from groq_gateway.store import GatewayStore


class PriceService:
    """``deployment``: the shipped prices with the deployment's overrides and policy."""

    def __init__(
        self,
        store: GatewayStore,
        deployment: PriceBook,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self._now = now

    def effective(self) -> tuple[PriceBook, dict[str, OperatorPrice]]:
        """The prices in force now (read consistently: a change shows at once here) and the
        operator's records behind them."""
        operator = self.store.prices.all(consistent=True)
        book = self.deployment.with_operator_prices(
            {model: stored.price for model, stored in operator.items()}
        )
        return book, operator

    def set(self, model: str, price: ModelPrice, actor: Actor) -> OperatorPrice:
        """Set (or replace) ``model``'s operator price; 422 when it prices nothing. Setting
        the price it already has changes nothing (no audit entry)."""
        if not any(price.prices(kind) for kind in PriceKind):
            raise GatewayError(
                422,
                "A price needs input_per_million and output_per_million (tokens), "
                "per_audio_hour (transcription) or per_million_characters (speech).",
                code="invalid_value",
                param="body",
            )

        def attempt() -> OperatorPrice:
            before = self.store.prices.get(model)
            now = self._now()
            if before is not None and before.price == price:
                return before
            after = OperatorPrice(model=model, price=price, updated_at=now, updated_by=actor.name)
            entry = audit_entry(actor, AuditAction.PRICE_SET, before=before, after=after, at=now)
            self.store.audit.commit(entry, [self.store.prices.put(after, replacing=before)])
            return after

        return retry_or_conflict(attempt, "price of model", model)

    def delete(self, model: str, actor: Actor) -> EffectivePrice | None:
        """Delete ``model``'s operator price (404 when it has none); the price that applies
        from now on (shipped or deployment), or None: the model is then unpriced."""

        def attempt() -> None:
            before = self.store.prices.get(model)
            now = self._now()
            if before is None:
                raise no_operator_price(model)
            entry = audit_entry(actor, AuditAction.PRICE_DELETED, before=before, after=None, at=now)
            self.store.audit.commit(entry, [self.store.prices.delete(before)])

        retry_or_conflict(attempt, "price of model", model)
        fallback = self.deployment.prices.get(model)
        if fallback is None:
            return None
        return EffectivePrice(model, fallback, self.deployment.sources[model])


def no_operator_price(model: str) -> GatewayError:
    return GatewayError(
        404, f"No operator price for model '{model}'.", code="not_found", param="model"
    )
