"""The poller's batch step: batches created through the gateway whose end no client has seen
yet are asked about at Groq (``GET /openai/v1/batches/{id}``); an ended one is metered from
its output file and the rest of its reservation given back, once, whoever sees its end first.
See docs/architecture.md#batches-and-files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice

import httpx

from groq_gateway.core.batches import TERMINAL_BATCH_STATUSES, BatchOutputMeter, BatchRecord
from groq_gateway.core.observability import logger
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.settings import Settings
from groq_gateway.secrets_manager import UpstreamKeys
from groq_gateway.store import GatewayStore

# Batches asked about per run (the oldest first); the rest wait for the next run.
MAX_BATCHES_PER_RUN = 200
# A batch Groq answers 404 for this long after its creation (its window is at most 7 days)
# is over: its reservation is given back. Sooner, a 404 is taken for a passing fault.
FORGOTTEN_AFTER = timedelta(days=8)


def settle_ended_batches(
    settings: Settings,
    store: GatewayStore,
    prices: PriceBook,
    now: datetime,
    *,
    client: httpx.Client | None = None,
) -> int:
    """Meter every open batch Groq says has ended; returns how many this run metered. A
    batch Groq does not answer about (or whose output cannot be read) waits for the next
    run; raises what the step counts as a failure when Groq or DynamoDB cannot be reached."""
    batches = list(islice(store.batches.open_batches(), MAX_BATCHES_PER_RUN))
    if not batches:
        return 0  # Groq is not asked (nor the upstream key read) when nothing is open
    key = UpstreamKeys(settings.upstream_key_secret_id, max_age=60).active_key()
    own_client = client is None
    http = client or httpx.Client(timeout=30.0)
    base = f"{settings.upstream_root}/openai/v1"
    headers = {"authorization": f"Bearer {key}"}
    metered = 0
    try:
        for batch in batches:
            response = http.get(f"{base}/batches/{batch.batch_id}", headers=headers)
            if response.status_code == 404 and now - batch.created_at > FORGOTTEN_AFTER:
                # Groq no longer knows it (long past any completion window): nothing more
                # will run, so its reservation is given back with nothing metered.
                metered += _settle(store, batch, BatchOutputMeter(), prices, "not_found", now)
                continue
            try:
                shown = response.json() if response.status_code == 200 else None
            except ValueError:
                shown = None
            status = shown.get("status") if isinstance(shown, dict) else None
            if not isinstance(shown, dict):
                logger.warning(
                    "batch not readable at Groq",
                    extra={"batch_id": batch.batch_id, "status": response.status_code},
                )
                continue
            if status not in TERMINAL_BATCH_STATUSES:
                continue
            output_file_id = shown.get("output_file_id")
            meter = BatchOutputMeter()
            has_output = isinstance(output_file_id, str) and bool(output_file_id)
            content_url = f"{base}/files/{output_file_id}/content"
            if has_output and not _read_output(http, content_url, headers, meter):
                continue
            metered += _settle(store, batch, meter, prices, str(status), now)
    finally:
        if own_client:
            http.close()
    return metered


def _read_output(
    http: httpx.Client, url: str, headers: dict[str, str], meter: BatchOutputMeter
) -> bool:
    with http.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            logger.warning("batch output not readable", extra={"status": response.status_code})
            return False
        for line in response.iter_lines():
            meter.add_line(line)
    return True


def _settle(
    store: GatewayStore,
    batch: BatchRecord,
    meter: BatchOutputMeter,
    prices: PriceBook,
    status: str,
    now: datetime,
) -> bool:
    metered = meter.metered(batch, prices, at=now)
    settled = store.batches.settle(batch, metered, status=status, at=now)
    logger.info(
        "batch metered" if settled else "batch already metered",
        extra={
            "batch_id": batch.batch_id,
            "key_id": batch.key_id,
            "cost_micros": sum(m.record.cost_micros for m in metered),
            "lines": sum(m.lines for m in metered),
        },
    )
    return settled
