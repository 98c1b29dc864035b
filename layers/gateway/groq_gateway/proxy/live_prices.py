"""The prices an instance applies: the deployment's price book with the operator's prices (the
table's) over it, read at init and re-read after a response once the copy is older than
``price_refresh_seconds``, never before a request's first upstream byte. A price change thus
applies to every request an instance admits more than that long after the change (the first
request of an instance idle for longer still uses its older copy, and refreshes it).
See docs/operations.md#setting-a-price.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio.to_thread

from groq_gateway.core.observability import logger
from groq_gateway.core.pricing import PriceBook
from groq_gateway.store import GatewayStore, StoreUnavailableError


class LivePrices:
    """This instance's copy of the effective prices; ``on_change`` gets each new book."""

    def __init__(
        self,
        deployment: PriceBook,
        store: GatewayStore,
        *,
        refresh_seconds: float,
        on_change: Callable[[PriceBook], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deployment = deployment
        self.book = deployment
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.on_change = on_change
        # Wall-clock time, not monotonic: a SnapStart snapshot restored hours later must
        # see its copy as stale.
        self.clock = clock
        self.loaded_at = float("-inf")
        self.refreshing = False

    def load(self) -> None:
        """Read the operator's prices (one query). Unreadable: the copy in use stays, and the
        next try comes one refresh interval later (a DynamoDB outage is not retried after
        every response)."""
        try:
            operator = self.store.prices.all()
        except StoreUnavailableError as error:
            logger.warning(
                "operator prices not read; the prices in use stay", extra={"error": str(error)}
            )
            self.loaded_at = self.clock()
            return
        book = self.deployment.with_operator_prices(
            {model: stored.price for model, stored in operator.items()}
        )
        self.loaded_at = self.clock()
        if book.prices != self.book.prices:
            self.book = book
            self.on_change(book)

    @property
    def stale(self) -> bool:
        return self.clock() - self.loaded_at >= self.refresh_seconds

    async def refresh(self) -> None:
        """After a response: re-read the operator's prices if the copy is stale (one reader
        at a time per instance)."""
        if self.refreshing or not self.stale:
            return
        self.refreshing = True
        try:
            await anyio.to_thread.run_sync(self.load)
        finally:
            self.refreshing = False
