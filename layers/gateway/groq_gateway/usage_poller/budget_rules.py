"""Budget rules, pure: what a key's, team's or the organisation's spend calls for
(thresholds to notify, a pause, a resume). See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from groq_gateway.core.limits import Scope

THRESHOLDS_PERCENT: tuple[int, ...] = (50, 80, 100)
EXHAUSTED_PERCENT = 100
# The ``paused_reason`` of a key or team the poller paused; the proxy answers a team paused
# for it with 429 ``spending_cap_reached``.
BUDGET_PAUSE_REASON = "budget"


class ScopeStatus(StrEnum):
    """What the poller may do with a scope: pause it, resume it, or neither."""

    ACTIVE = "active"
    PAUSED_FOR_BUDGET = "paused_for_budget"
    # Paused by an admin (any other reason): thresholds are still notified, nothing changes.
    PAUSED_BY_ADMIN = "paused_by_admin"


@dataclass(frozen=True)
class BudgetState:
    """A budgeted scope as the poller found it in the current billing month."""

    scope: Scope
    scope_id: str
    # The key's name, the team's id, "organisation".
    name: str
    budget_micros: int | None
    spent_micros: int
    status: ScopeStatus = ScopeStatus.ACTIVE

    @property
    def utilization_percent(self) -> int | None:
        return utilization_percent(self.spent_micros, self.budget_micros)


@dataclass(frozen=True)
class BudgetDecision:
    utilization_percent: int | None
    # Thresholds reached and not yet notified this billing month, lowest first.
    new_thresholds: tuple[int, ...] = ()
    pause: bool = False
    resume: bool = False

    @property
    def notify_threshold(self) -> int | None:
        """The one threshold to notify about: the highest new one."""
        return self.new_thresholds[-1] if self.new_thresholds else None

    @property
    def changes_anything(self) -> bool:
        return bool(self.new_thresholds) or self.pause or self.resume


def utilization_percent(spent_micros: int, budget_micros: int | None) -> int | None:
    """Spend as a whole percent of the budget, rounded half up; ``None`` without a budget.

    The figure people read on the dashboard, and the one thresholds and alarms compare.
    Rounding matters at 100 %: a hard cap refuses the request whose worst-case reservation no
    longer fits, so settled spend stops just short of the budget; 99.5 % counts as exhausted.
    A budget of 0 allows nothing (the proxy refuses every priced request), so it has no
    utilisation and raises no thresholds.

    Example::

        utilization_percent(99_500_000, 100_000_000)  # 100
        utilization_percent(5, None)  # None
    """
    if not budget_micros:
        return None
    percent = Decimal(spent_micros) * 100 / Decimal(budget_micros)
    return int(percent.to_integral_value(rounding=ROUND_HALF_UP))


def reached_thresholds(percent: int | None) -> tuple[int, ...]:
    if percent is None:
        return ()
    return tuple(t for t in THRESHOLDS_PERCENT if percent >= t)


def decide(state: BudgetState, notified: frozenset[int]) -> BudgetDecision:
    """What the poller does about one scope, given the thresholds already notified this
    billing month:

    * at 50, 80 and 100 % of the budget, notify once per threshold per billing month (a jump
      past several thresholds at once notifies the highest);
    * at 100 %, pause an active key or team (reason ``budget``); the organisation is never
      paused;
    * resume a key or team paused for ``budget`` as soon as its budget is no longer exhausted
      (the next billing month, or sooner if an admin raised or removed the budget). Scopes
      paused for any other reason are never paused or resumed.

    Example::

        state = BudgetState(Scope.TEAM, "chatbot", "chatbot", budget_micros=100_000_000,
                            spent_micros=80_100_000, status=ScopeStatus.ACTIVE)
        decide(state, notified=frozenset({50}))
        # BudgetDecision(utilization_percent=80, new_thresholds=(80,), pause=False, resume=False)
    """
    percent = state.utilization_percent
    new = tuple(t for t in reached_thresholds(percent) if t not in notified)
    exhausted = percent is not None and percent >= EXHAUSTED_PERCENT
    pausable = state.scope is not Scope.ORG and state.status is ScopeStatus.ACTIVE
    return BudgetDecision(
        utilization_percent=percent,
        new_thresholds=new,
        pause=pausable and exhausted,
        resume=state.status is ScopeStatus.PAUSED_FOR_BUDGET and not exhausted,
    )
