"""Every key's files and batches as the gateway recorded them (owner, state, reservation and
metered cost): read-only, for a full view across keys. See docs/architecture.md#batches-and-files.
"""

from __future__ import annotations

from groq_gateway.core.batches import BatchRecord, BatchState, FileRecord
from groq_gateway.store import GatewayStore
from groq_gateway.store.paging import Page


class BatchService:
    def __init__(self, store: GatewayStore) -> None:
        self.store = store

    def files_page(self, *, limit: int, cursor: str | None) -> Page[FileRecord]:
        """Every file uploaded through the gateway or written by Groq for a gateway batch,
        newest first (files deleted through the gateway are left out)."""
        return self.store.batches.files_page(limit=limit, cursor=cursor)

    def batches_page(
        self, *, state: BatchState | None, limit: int, cursor: str | None
    ) -> Page[BatchRecord]:
        """Every batch created through the gateway (or those in ``state``), open ones first."""
        return self.store.batches.batches_page(state=state, limit=limit, cursor=cursor)
