"""The poller's lease step: organisation budget leases whose instance went away, given back
once their grace has passed. See docs/architecture.md#organisation-budget-leases."""

from __future__ import annotations

from datetime import datetime

from groq_gateway.store import GatewayStore


def reclaim_org_leases(store: GatewayStore, now: datetime) -> int:
    """Give back what expired leases did not use; returns how many were reclaimed. A lease
    whose use changed since it was read (a late settlement) is left for the next run."""
    leases = store.org_leases
    return sum(1 for lease in leases.expired(now.timestamp()) if leases.give_back(lease))
