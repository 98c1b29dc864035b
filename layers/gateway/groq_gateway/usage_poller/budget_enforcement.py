"""The poller's budget step: thresholds notified, keys and teams paused for their budget and
resumed, decided by :mod:`groq_gateway.usage_poller.budget_rules`. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import count
from typing import Any, Protocol, TypeVar

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
from groq_gateway.store import GatewayStore
from groq_gateway.store.notices import NoticeStore
from groq_gateway.store.optimistic import KeptChangingError, retry_on_conflict
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


class _Records(Protocol[_Record]):
    """The store's keys or teams, as the budget step reads and changes them."""

    def get(self, record_id: str, /) -> _Record | None: ...

    def update(self, before: _Record, after: _Record, /) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Kind:
    """What differs between a key's and a team's pause or resume."""

    scope: Scope
    action: AuditAction
    active: StrEnum
    paused: StrEnum


_KEY = _Kind(Scope.KEY, AuditAction.API_KEY_UPDATED, KeyStatus.ACTIVE, KeyStatus.PAUSED)
_TEAM = _Kind(Scope.TEAM, AuditAction.TEAM_UPDATED, TeamStatus.ACTIVE, TeamStatus.PAUSED)


def _toggled(record: _Record, decision: BudgetDecision, now: datetime, kind: _Kind) -> _Record:
    """The record paused for ``budget`` (``decision.pause``) or made active again."""
    return record.model_copy(
        update={
            "status": kind.paused if decision.pause else kind.active,
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

    def _spent(self, scope: Scope, scope_id: str, team_id: str | None = None) -> int:
        """A scope's spend this billing month (``team_id``: a key's team, where its counters
        are kept)."""
        month = self.month.label
        return self.store.counters.month_spend(scope, scope_id, month, team_id=team_id).spent_micros

    def _key_state(self, key: GatewayKey) -> BudgetState | None:
        status = key_scope_status(key)
        budget = _budget_micros(key.monthly_budget_usd)
        if status is None or (budget is None and status is not ScopeStatus.PAUSED_FOR_BUDGET):
            return None
        spent = self._spent(Scope.KEY, key.key_id, key.team_id)
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

    def _until_no_conflict(self, label: str, attempt: Callable[[bool], None]) -> None:
        """Run ``attempt(again)`` until it meets no concurrent change, at most
        :data:`MAX_ATTEMPTS` times; a retry (``again``) starts from the notified thresholds
        read again. When every attempt met one, ``label`` waits for the next run."""
        attempts = count()

        def once() -> None:
            again = next(attempts) > 0
            if again:
                self._refresh_notified()
            attempt(again)

        try:
            retry_on_conflict(once, attempts=MAX_ATTEMPTS)
        except KeptChangingError:
            self.outcome.conflicts.append(label)

    def watch_key(self, key: GatewayKey) -> None:
        self._watch(key, key.key_id, self.store.keys, _KEY)

    def watch_team(self, team: Team) -> None:
        self._watch(team, team.team_id, self.store.teams, _TEAM)

    def _watch(
        self, record: _Record, record_id: str, records: _Records[_Record], kind: _Kind
    ) -> None:
        """Decide about a key or team as listed and do it; after a conflict, read it again."""

        def attempt(again: bool) -> None:
            current = records.get(record_id) if again else record
            if current is not None:
                self._settle(current, records, kind)

        self._until_no_conflict(f"{kind.scope.value}:{record_id}", attempt)

    def _settle(self, record: _Record, records: _Records[_Record], kind: _Kind) -> None:
        """A pause or a resume (:meth:`_change`), or only the thresholds. Raises
        ``ConditionFailedError`` when the record or a marker changed meanwhile."""
        state = (
            self._key_state(record) if isinstance(record, GatewayKey) else self._team_state(record)
        )
        if state is None:
            return
        decision = self._decide(state)
        if kind.scope is Scope.TEAM and decision.utilization_percent is not None:
            self.outcome.team_utilization[state.scope_id] = decision.utilization_percent
        if not (decision.pause or decision.resume):
            self._notify_only(state, decision)
            return
        after = _toggled(record, decision, self.now, kind)
        entry = audit_entry(POLLER_ACTOR, kind.action, before=record, after=after, at=self.now)
        change = records.update(record, after)
        self._change(state, decision, change, entry, paused_at=record.updated_at)

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

        def attempt(again: bool) -> None:
            spent = self._spent(Scope.ORG, ORG_ID)
            state = BudgetState(Scope.ORG, ORG_ID, "organisation", budget, spent)
            decision = self._decide(state)
            self.outcome.org_utilization = decision.utilization_percent
            self._notify_only(state, decision)

        self._until_no_conflict("org", attempt)


def watch_budgets(
    settings: Settings,
    store: GatewayStore,
    notices: NoticeStore,
    keys: Sequence[GatewayKey],
    teams: Sequence[Team],
    now: datetime,
) -> BudgetOutcome:
    """Evaluate every key's, team's and the organisation's budget once.

    Each threshold reached is written as its marker (once per billing month) with the event in
    the outbox; each pause or resume as the record's versioned update, its audit entry (actor
    ``usage-poller``) and the event, in one transaction. A scope whose write meets a
    concurrent change is read and decided again, a few times; then it waits for the next run.

    Example::

        outcome = watch_budgets(settings, store, notices, keys, teams, now)
        outcome.paused  # ["key:3f9c0a7d1e2b4c5d", "team:chatbot"]
    """
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
