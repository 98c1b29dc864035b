"""Where the counters live. A key's and its team's minute windows and months share one item,
the **counter item** of the key's home (its team's partition, or its own for a key without a
team) and billing month, so that admitting a request is one single-item write. The
organisation's month and budget leases live in the ``ORG`` partition.
See docs/architecture.md#the-counter-item.

Example::

    home = counter_home(key_id="k" * 16, team_id="search")  # -> "TEAM#search"
    names = CounterNames(Scope.KEY, "k" * 16)                # -> r<key>, t<key>, c<key>, s<key>
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from groq_gateway.core.limits import AdmissionPlan, Scope
from groq_gateway.store.table import to_item

ORG_PK = "ORG"
# The counter item's attributes: the minute its window map holds, and that map.
MINUTE_ATTRIBUTE = "minute"
WINDOW_ATTRIBUTE = "w"


def scope_pk(scope: Scope, scope_id: str) -> str:
    """The scope's partition (``scope_id`` is ignored for the organisation)."""
    return {Scope.KEY: f"KEY#{scope_id}", Scope.TEAM: f"TEAM#{scope_id}", Scope.ORG: ORG_PK}[scope]


def counter_home(key_id: str, team_id: str | None) -> str:
    """The partition of a key's counter item: its team's, or its own without a team."""
    return scope_pk(Scope.TEAM, team_id) if team_id else scope_pk(Scope.KEY, key_id)


def plan_home(plan: AdmissionPlan) -> str | None:
    """The counter item ``plan`` counts on (``None`` when it counts only the organisation)."""
    if not plan.windows and all(r.scope is Scope.ORG for r in plan.reservations):
        return None
    team_id = plan.team_id
    key_id: str | None = None
    scopes = [(w.scope, w.scope_id) for w in plan.windows]
    scopes += [(r.scope, r.scope_id) for r in plan.reservations]
    for scope, scope_id in scopes:
        if scope is Scope.TEAM and team_id is None:
            team_id = scope_id
        elif scope is Scope.KEY:
            key_id = scope_id
    if team_id:
        return scope_pk(Scope.TEAM, team_id)
    return scope_pk(Scope.KEY, key_id) if key_id else None


@dataclass(frozen=True)
class CounterNames:
    """A scope's attributes in a counter item: ``requests`` and ``tokens`` in the window map,
    ``committed`` and ``spent`` micros of the month at the top level. The home team's are
    ``r``, ``t``, ``c``, ``s``; a key's carry its id (16 letters and digits) after the letter,
    so a key's can never be mistaken for the team's."""

    scope: Scope
    scope_id: str

    def _name(self, letter: str) -> str:
        return letter if self.scope is Scope.TEAM else f"{letter}{self.scope_id}"

    @property
    def requests(self) -> str:
        return self._name("r")

    @property
    def tokens(self) -> str:
        return self._name("t")

    @property
    def committed(self) -> str:
        return self._name("c")

    @property
    def spent(self) -> str:
        return self._name("s")


def counter_sk(month: str) -> str:
    return f"CTR#{month}"


def month_sk(month: str) -> str:
    """The organisation's month item."""
    return f"SPEND#{month}"


def lease_sk(month: str, lease_id: str) -> str:
    return f"LEASE#{month}#{lease_id}"


def item_key(pk: str, sk: str) -> dict[str, Any]:
    """``Key`` of a DynamoDB call."""
    return to_item({"pk": pk, "sk": sk})
