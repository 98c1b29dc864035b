"""The usage poller's budget step: thresholds notified, keys and teams paused and resumed.

For every key and team with a monthly budget (and every one paused for ``budget``) and for the
organisation's cap, the step reads the spend counted against the budget in the current billing
month (the proxy's ``SPEND#<month>`` counter), asks
:func:`groq_gateway.usage_poller.budget_rules.decide` what to do, and does it in one
DynamoDB transaction per scope:

* a threshold reached: its marker (once per billing month) and the event in the outbox;
* a pause or a resume: the key's or team's versioned update, its audit entry (actor
  ``usage-poller``) and the event in the outbox, so none of the three exists without the
  others. The admin API shows the pause (``status: paused``, ``paused_reason: budget``) and
  the proxy refuses the key or team within its cache bound (5 s).

A write that meets a concurrent change (an admin edited the key, another run got there
first) is read again and decided again, a few times; then it waits for the next run.

Example::

    outcome = watch_budgets(settings, store, notices, keys, teams, now)
    outcome.paused  # ["key:3f9c0a7d1e2b4c5d", "team:chatbot"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.events import (
    BudgetPausedEvent,
    BudgetResumedEvent,
    BudgetThresholdEvent,
    GatewayEvent,
)
from groq_gateway.core.limits import Scope
from groq_gateway.core.money import micros_to_cents, usd_to_micros
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import month_end, month_of
from groq_gateway.core.records import (
    AuditAction,
    AuditEntry,
    GatewayKey,
    KeyStatus,
    Team,
    TeamStatus,
)
from groq_gateway.core.rollups import ORG_ID
from groq_gateway.core.settings import Settings
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.notices import NoticeStore
from groq_gateway.usage_poller.budget_rules import (
    BUDGET_PAUSE_REASON,
    BudgetDecision,
    BudgetState,
    ScopeStatus,
    decide,
)

# The actor of the poller's audit entries.
POLLER_ACTOR = Actor("usage-poller", "usage-poller")
# How often one scope's change is decided again after meeting a concurrent change.
MAX_ATTEMPTS = 3


@dataclass
class BudgetOutcome:
    """What the budget step did, and the utilisation it found (for the metrics)."""

    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    events_queued: int = 0
    team_utilization: dict[str, int] = field(default_factory=dict)
    org_utilization: int | None = None
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BillingMonth:
    label: str
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def at(cls, now: datetime, settings: Settings) -> BillingMonth:
        tz = settings.billing_tz
        local = now.astimezone(tz)
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return cls(month_of(now, tz), start, month_end(now, tz))


_Record = TypeVar("_Record", GatewayKey, Team)


def _toggled(
    record: _Record, decision: BudgetDecision, now: datetime, active: StrEnum, paused: StrEnum
) -> _Record:
    """The record paused for ``budget`` (``decision.pause``) or made active again."""
    return record.model_copy(
        update={
            "status": paused if decision.pause else active,
            "paused_reason": BUDGET_PAUSE_REASON if decision.pause else None,
            "updated_at": now,
            "version": record.version + 1,
        }
    )


def key_scope_status(key: GatewayKey) -> ScopeStatus | None:
    """What the poller may do with a key; ``None`` for revoked and expired keys (ignored)."""
    if key.status is KeyStatus.ACTIVE:
        return ScopeStatus.ACTIVE
    if key.status is KeyStatus.PAUSED:
        if key.paused_reason == BUDGET_PAUSE_REASON:
            return ScopeStatus.PAUSED_FOR_BUDGET
        return ScopeStatus.PAUSED_BY_ADMIN
    return None


def team_scope_status(team: Team) -> ScopeStatus:
    if team.status is TeamStatus.ACTIVE:
        return ScopeStatus.ACTIVE
    if team.paused_reason == BUDGET_PAUSE_REASON:
        return ScopeStatus.PAUSED_FOR_BUDGET
    return ScopeStatus.PAUSED_BY_ADMIN


def _budget_micros(budget_usd: Decimal | None) -> int | None:
    return None if budget_usd is None else usd_to_micros(budget_usd)


class _BudgetWatch:
    def __init__(
        self, settings: Settings, store: GatewayStore, notices: NoticeStore, now: datetime
    ) -> None:
        self.settings = settings
        self.store = store
        self.notices = notices
        self.now = now
        self.month = BillingMonth.at(now, settings)
        self.outcome = BudgetOutcome()
        self._notified = notices.notified_thresholds(self.month.label)

    # -- reading ----------------------------------------------------------------------------

    def _spent(self, scope: Scope, scope_id: str) -> int:
        return self.store.counters.month_spend(scope, scope_id, self.month.label).spent_micros

    def _key_state(self, key: GatewayKey) -> BudgetState | None:
        status = key_scope_status(key)
        budget = _budget_micros(key.monthly_budget_usd)
        if status is None or (budget is None and status is not ScopeStatus.PAUSED_FOR_BUDGET):
            return None
        spent = self._spent(Scope.KEY, key.key_id)
        return BudgetState(Scope.KEY, key.key_id, key.name, budget, spent, status)

    def _team_state(self, team: Team) -> BudgetState | None:
        status = team_scope_status(team)
        budget = _budget_micros(team.monthly_budget_usd)
        if budget is None and status is not ScopeStatus.PAUSED_FOR_BUDGET:
            return None
        spent = self._spent(Scope.TEAM, team.team_id)
        return BudgetState(Scope.TEAM, team.team_id, team.team_id, budget, spent, status)

    def _decide(self, state: BudgetState) -> BudgetDecision:
        notified = self._notified.get((state.scope, state.scope_id), frozenset())
        return decide(state, notified)

    def _refresh_notified(self) -> None:
        self._notified = self.notices.notified_thresholds(self.month.label)

    # -- events -----------------------------------------------------------------------------

    def _threshold_event(self, state: BudgetState, threshold: int) -> BudgetThresholdEvent:
        return BudgetThresholdEvent(
            scope=state.scope.value,
            scope_id=state.scope_id,
            name=state.name if state.scope is Scope.KEY else None,
            threshold_percent=threshold,
            spend_usd=micros_to_cents(state.spent_micros),
            budget_usd=micros_to_cents(state.budget_micros or 0),
            period=self.month.label,
            resets_at=self.month.ends_at,
        )

    def _paused_event(self, state: BudgetState) -> BudgetPausedEvent:
        return BudgetPausedEvent(
            scope="key" if state.scope is Scope.KEY else "team",
            scope_id=state.scope_id,
            name=state.name if state.scope is Scope.KEY else None,
            spend_usd=micros_to_cents(state.spent_micros),
            budget_usd=micros_to_cents(state.budget_micros or 0),
            period=self.month.label,
            resets_at=self.month.ends_at,
        )

    def _resumed_event(self, state: BudgetState, paused_at: datetime) -> BudgetResumedEvent:
        # A record the poller paused keeps the pause's updated_at until someone changes it: if
        # that is before this billing month, the month changed; otherwise an admin changed it.
        new_month = paused_at < self.month.starts_at
        return BudgetResumedEvent(
            scope="key" if state.scope is Scope.KEY else "team",
            scope_id=state.scope_id,
            name=state.name if state.scope is Scope.KEY else None,
            reason="new_billing_month" if new_month else "budget_changed",
            spend_usd=micros_to_cents(state.spent_micros),
            budget_usd=None
            if state.budget_micros is None
            else micros_to_cents(state.budget_micros),
            period=self.month.label,
        )

    def _outbox(self, event: GatewayEvent) -> dict[str, Any]:
        return self.notices.outbox_put(event, self.now)

    def _markers(self, state: BudgetState, decision: BudgetDecision) -> list[dict[str, Any]]:
        return [
            self.notices.threshold_marker(
                self.month.label,
                state.scope,
                state.scope_id,
                threshold,
                at=self.now,
                month_ends_at=self.month.ends_at,
            )
            for threshold in decision.new_thresholds
        ]

    def _notify_only(self, state: BudgetState, decision: BudgetDecision) -> None:
        """Threshold markers and the event for the highest new threshold, in one transaction."""
        threshold = decision.notify_threshold
        if threshold is None:
            return
        event = self._threshold_event(state, threshold)
        self.notices.commit([*self._markers(state, decision), self._outbox(event)])
        self.outcome.events_queued += 1
        logger.info(
            "budget threshold reached",
            extra={"scope": state.scope.value, "scope_id": state.scope_id, "percent": threshold},
        )

    # -- keys and teams ---------------------------------------------------------------------

    def watch_key(self, key: GatewayKey) -> None:
        for _ in range(MAX_ATTEMPTS):
            state = self._key_state(key)
            if state is None:
                return
            decision = self._decide(state)
            try:
                if decision.pause or decision.resume:
                    after = _toggled(key, decision, self.now, KeyStatus.ACTIVE, KeyStatus.PAUSED)
                    entry = audit_entry(
                        POLLER_ACTOR,
                        AuditAction.API_KEY_UPDATED,
                        before=key,
                        after=after,
                        at=self.now,
                    )
                    change = self.store.keys.update(key, after)
                    self._change(state, decision, change, entry, paused_at=key.updated_at)
                else:
                    self._notify_only(state, decision)
                return
            except ConditionFailedError:
                fresh = self.store.keys.get(key.key_id)
                if fresh is None:
                    return
                key = fresh
                self._refresh_notified()
        self.outcome.conflicts.append(f"key:{key.key_id}")

    def watch_team(self, team: Team) -> None:
        for _ in range(MAX_ATTEMPTS):
            state = self._team_state(team)
            if state is None:
                return
            decision = self._decide(state)
            if decision.utilization_percent is not None:
                self.outcome.team_utilization[team.team_id] = decision.utilization_percent
            try:
                if decision.pause or decision.resume:
                    after = _toggled(team, decision, self.now, TeamStatus.ACTIVE, TeamStatus.PAUSED)
                    entry = audit_entry(
                        POLLER_ACTOR,
                        AuditAction.TEAM_UPDATED,
                        before=team,
                        after=after,
                        at=self.now,
                    )
                    change = self.store.teams.update(team, after)
                    self._change(state, decision, change, entry, paused_at=team.updated_at)
                else:
                    self._notify_only(state, decision)
                return
            except ConditionFailedError:
                fresh = self.store.teams.get(team.team_id)
                if fresh is None:
                    return
                team = fresh
                self._refresh_notified()
        self.outcome.conflicts.append(f"team:{team.team_id}")

    def _change(
        self,
        state: BudgetState,
        decision: BudgetDecision,
        change: dict[str, Any],
        entry: AuditEntry,
        *,
        paused_at: datetime,
    ) -> None:
        """Pause or resume: the record's change, its audit entry, new threshold markers and
        the events, in one transaction. At 100 % the pause event stands for the threshold."""
        events: list[GatewayEvent] = [
            self._paused_event(state) if decision.pause else self._resumed_event(state, paused_at)
        ]
        if decision.resume and decision.notify_threshold is not None:
            events.append(self._threshold_event(state, decision.notify_threshold))
        writes = [change, *self._markers(state, decision), *map(self._outbox, events)]
        self.store.audit.commit(entry, writes)
        label = f"{state.scope.value}:{state.scope_id}"
        (self.outcome.paused if decision.pause else self.outcome.resumed).append(label)
        self.outcome.events_queued += len(events)
        logger.info(
            "budget pause" if decision.pause else "budget resume",
            extra={
                "scope": state.scope.value,
                "scope_id": state.scope_id,
                "percent": decision.utilization_percent,
                "period": self.month.label,
            },
        )

    # -- the organisation -------------------------------------------------------------------

    def watch_org(self) -> None:
        budget = self.settings.org_cap_micros
        if budget is None:
            return
        for _ in range(MAX_ATTEMPTS):
            state = BudgetState(
                Scope.ORG, ORG_ID, "organisation", budget, self._spent(Scope.ORG, ORG_ID)
            )
            decision = self._decide(state)
            self.outcome.org_utilization = decision.utilization_percent
            try:
                self._notify_only(state, decision)
                return
            except ConditionFailedError:
                self._refresh_notified()
        self.outcome.conflicts.append("org")


def watch_budgets(
    settings: Settings,
    store: GatewayStore,
    notices: NoticeStore,
    keys: Sequence[GatewayKey],
    teams: Sequence[Team],
    now: datetime,
) -> BudgetOutcome:
    """Evaluate every key's, team's and the organisation's budget once (see the module)."""
    watch = _BudgetWatch(settings, store, notices, now)
    watch.watch_org()
    for team in teams:
        watch.watch_team(team)
    for key in keys:
        watch.watch_key(key)
    if watch.outcome.conflicts:
        logger.warning(
            "budget changes kept meeting concurrent changes; the next run decides again",
            extra={"scopes": watch.outcome.conflicts},
        )
    return watch.outcome
