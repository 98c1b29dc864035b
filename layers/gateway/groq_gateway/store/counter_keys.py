"""Where the counters live: one partition per scope (``KEY#<id>``, ``TEAM#<id>``, ``ORG``)
holding its minute windows, its months and (the organisation's) budget leases.
"""

from __future__ import annotations

from typing import Any

from groq_gateway.core.limits import Scope
from groq_gateway.store.table import to_item

ORG_PK = "ORG"


def scope_pk(scope: Scope, scope_id: str) -> str:
    """The scope's partition (``scope_id`` is ignored for the organisation)."""
    return {Scope.KEY: f"KEY#{scope_id}", Scope.TEAM: f"TEAM#{scope_id}", Scope.ORG: ORG_PK}[scope]


def window_sk(minute: str) -> str:
    return f"RL#{minute}"


def month_sk(month: str) -> str:
    return f"SPEND#{month}"


def lease_sk(month: str, lease_id: str) -> str:
    return f"LEASE#{month}#{lease_id}"


def item_key(pk: str, sk: str) -> dict[str, Any]:
    """``Key`` of a DynamoDB call."""
    return to_item({"pk": pk, "sk": sk})
