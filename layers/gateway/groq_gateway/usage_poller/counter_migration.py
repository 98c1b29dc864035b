"""The poller's step for deployments upgraded from a release that kept each key's and team's
month in its own item (``KEY#<id>/SPEND#<month>``, ``TEAM#<id>/SPEND#<month>``): the billing
month's figures are carried into the counter item once, so budgets keep what was spent before
the upgrade. See docs/architecture.md#the-counter-item and docs/operations.md#upgrading.

Example::

    carry_earlier_months(store, keys, teams, now, settings.billing_tz)  # -> 3 months carried
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import month_of
from groq_gateway.core.records import GatewayKey, Team
from groq_gateway.store import GatewayStore
from groq_gateway.store.counters import Carry


def carry_earlier_months(
    store: GatewayStore,
    keys: Sequence[GatewayKey],
    teams: Sequence[Team],
    now: datetime,
    billing_tz: tzinfo,
) -> int:
    """Carry every key's and team's earlier month item of this billing month into its
    counter item; returns how many were carried. Once every one is (none changed while it
    was carried), the month is marked done and later runs read nothing."""
    counters = store.counters
    month = month_of(now, billing_tz)
    if counters.earlier_months_carried(month):
        return 0
    outcomes = [
        counters.carry_earlier_month(Scope.TEAM, team.team_id, month, team_id=team.team_id)
        for team in teams
    ]
    outcomes += [
        counters.carry_earlier_month(Scope.KEY, key.key_id, month, team_id=key.team_id)
        for key in keys
    ]
    if Carry.CHANGED not in outcomes:
        counters.mark_earlier_months_carried(month, now)
    return outcomes.count(Carry.CARRIED)
