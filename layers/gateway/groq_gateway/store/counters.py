"""Counters: a request admitted in one conditional write on its counter item, and settled after
its response in single-item writes applied at most once.
See docs/architecture.md#admission-and-settlement and docs/architecture.md#the-counter-item.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from functools import partial
from typing import Any

from groq_gateway.core.budget_leases import LeaseDraw
from groq_gateway.core.limits import (
    AdmissionPlan,
    LimitExceededError,
    LimitKind,
    MonthSpend,
    Scope,
    SpendReservation,
    WindowCount,
)
from groq_gateway.core.periods import minute_end, minute_of, month_of
from groq_gateway.core.records import UsageRecord
from groq_gateway.store.counter_keys import (
    MINUTE_ATTRIBUTE,
    ORG_PK,
    WINDOW_ATTRIBUTE,
    CounterNames,
    counter_home,
    counter_sk,
    item_key,
    month_sk,
    plan_home,
    scope_pk,
)
from groq_gateway.store.org_leases import OrgLeaseStore, reclaimed_settle_update, settle_update
from groq_gateway.store.table import (
    ConditionFailedError,
    StoreUnavailableError,
    Table,
    from_item,
    to_item,
)
from groq_gateway.store.usage import usage_update

# A transaction that meets another on the same item is cancelled with TransactionConflict;
# under heavy concurrency on one key that is normal, so it is retried with jittered backoff.
MAX_CONFLICT_RETRIES = 8
# Admission writes again when the counter item's window belongs to another minute (the first
# request of a minute starts it afresh) or another instance started it meanwhile.
MAX_WINDOW_TURNS = 4


class Carry(StrEnum):
    """What carrying an earlier release's month item did: ``changed`` when the item changed
    while it was carried (a late settlement of that release), so it is left for the next run."""

    CARRIED = "carried"
    NOTHING = "nothing"
    CHANGED = "changed"


# Markers of one-off data changes (a month whose earlier month items were carried over).
MIGRATIONS_PK = "MIGRATIONS"


def _carried_sk(month: str) -> str:
    return f"counter-item#{month}"


@dataclass(frozen=True)
class Admission:
    """What admission counted; after a single-item admission, the key's window as it left it
    (``requests``, ``tokens``), for the ``x-ratelimit-remaining-*`` headers.

    ``org_draw``: the request's cost was held on an organisation budget lease (in memory)
    instead of being reserved on the organisation item; settlement then records it there.
    """

    plan: AdmissionPlan
    counts: dict[str, int] | None = None
    org_draw: LeaseDraw | None = None


class SettlementIncompleteError(StoreUnavailableError):
    """Some of a settlement's writes were not applied, or may not have been (DynamoDB did not
    say): ``failed`` names them, of ``counters``, ``organisation``, ``metering`` and
    ``secret_use``. The others were applied, each once."""

    def __init__(self, failed: Sequence[str], errors: Sequence[str]) -> None:
        super().__init__("settlement incomplete: " + "; ".join(errors))
        self.failed = tuple(failed)


@dataclass
class _Update:
    """One ``UpdateItem``'s expression, with numbered placeholders."""

    sets: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def name(self, attribute: str) -> str:
        for placeholder, known in self.names.items():
            if known == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    @property
    def empty(self) -> bool:
        return not self.sets and not self.adds

    def build(self, table: Table, key: dict[str, Any]) -> dict[str, Any]:
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(self.sets))
        if self.adds:
            clauses.append("ADD " + ", ".join(self.adds))
        update: dict[str, Any] = {
            "TableName": table.name,
            "Key": key,
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": to_item(self.values),
        }
        if self.conditions:
            update["ConditionExpression"] = " AND ".join(self.conditions)
        return update


def _window_counts(
    update: _Update, windows: Sequence[WindowCount], minute: str, *, fresh: bool
) -> None:
    """Count one request in the windows of ``minute``: on top of the item's window map, or
    (``fresh``) replacing a map of an earlier minute, which no limit can refuse (the request
    alone fits: ``check_fits``)."""
    held, window = update.name(MINUTE_ATTRIBUTE), update.name(WINDOW_ATTRIBUTE)
    at = update.value(minute)
    if fresh:
        counts: dict[str, int] = {}
        for count in windows:
            names = CounterNames(count.scope, count.scope_id)
            counts[names.requests], counts[names.tokens] = 1, count.tokens
        update.sets += [f"{held} = {at}", f"{window} = {update.value(counts)}"]
        update.conditions.append(f"(attribute_not_exists({held}) OR {held} < {at})")
        return
    update.conditions.append(f"{held} = {at}")
    zero = update.value(0)
    for count in windows:
        names = CounterNames(count.scope, count.scope_id)
        requests = f"{window}.{update.name(names.requests)}"
        tokens = f"{window}.{update.name(names.tokens)}"
        update.sets.append(f"{requests} = if_not_exists({requests}, {zero}) + {update.value(1)}")
        update.sets.append(
            f"{tokens} = if_not_exists({tokens}, {zero}) + {update.value(count.tokens)}"
        )
        if count.max_requests is not None:
            update.conditions.append(
                f"(attribute_not_exists({requests}) OR "
                f"{requests} < {update.value(count.max_requests)})"
            )
        if count.max_tokens is not None:
            update.conditions.append(
                f"(attribute_not_exists({tokens}) OR "
                f"{tokens} <= {update.value(count.max_tokens - count.tokens)})"
            )


def _home_admission(
    table: Table, plan: AdmissionPlan, home: str, minute: str, *, fresh: bool
) -> dict[str, Any]:
    """The counter item's part of an admission: windows and the key's and team's months."""
    update = _Update()
    if plan.windows:
        _window_counts(update, plan.windows, minute, fresh=fresh)
    for reservation in plan.reservations:
        if reservation.scope is Scope.ORG:
            continue
        committed = update.name(CounterNames(reservation.scope, reservation.scope_id).committed)
        update.adds.append(f"{committed} {update.value(reservation.micros)}")
        if reservation.cap_micros is not None:
            room = update.value(reservation.cap_micros - reservation.micros)
            update.conditions.append(
                f"(attribute_not_exists({committed}) OR {committed} <= {room})"
            )
    month = month_of(plan.at, plan.billing_tz)
    return update.build(table, item_key(home, counter_sk(month)))


def _org_admission(table: Table, reservation: SpendReservation) -> dict[str, Any]:
    update = _Update()
    committed = update.name("committed_micros")
    update.adds.append(f"{committed} {update.value(reservation.micros)}")
    if reservation.cap_micros is not None:
        room = update.value(reservation.cap_micros - reservation.micros)
        update.conditions.append(f"(attribute_not_exists({committed}) OR {committed} <= {room})")
    return update.build(table, item_key(ORG_PK, month_sk(reservation.month)))


def spend_settlement(
    table: Table, home: str | None, reservations: Iterable[SpendReservation], micros: int
) -> list[tuple[str, dict[str, Any]]]:
    """The writes that replace ``reservations`` by the real cost ``micros``: one on the
    counter item (key and team), one on the organisation's month, named ``counters`` and
    ``organisation``. Nothing for a reservation of 0 settled at 0."""
    home_update, org_update = _Update(), _Update()
    home_month = org_month = ""
    for reservation in reservations:
        if micros == 0 and reservation.micros == 0:
            continue
        delta = micros - reservation.micros
        if reservation.scope is Scope.ORG:
            org_update.adds.append(
                f"{org_update.name('committed_micros')} {org_update.value(delta)}, "
                f"{org_update.name('spent_micros')} {org_update.value(micros)}"
            )
            org_month = reservation.month
            continue
        home_month = reservation.month
        names = CounterNames(reservation.scope, reservation.scope_id)
        home_update.adds.append(
            f"{home_update.name(names.committed)} {home_update.value(delta)}, "
            f"{home_update.name(names.spent)} {home_update.value(micros)}"
        )
    writes = []
    if not home_update.empty and home is not None:
        key = item_key(home, counter_sk(home_month))
        writes.append(("counters", home_update.build(table, key)))
    if not org_update.empty:
        writes.append(
            ("organisation", org_update.build(table, item_key(ORG_PK, month_sk(org_month))))
        )
    return writes


def _window_turn(
    plan: AdmissionPlan, minute: str, fresh: bool, old: dict[str, Any] | None
) -> tuple[str, bool] | None:
    """After the counter item refused an admission: the minute and mode to write again with,
    or ``None`` when a limit refused it."""
    if not plan.windows:
        return None
    held = (old or {}).get(MINUTE_ATTRIBUTE)
    if held is None or str(held) < minute:
        return None if fresh else (minute, True)  # an earlier minute's map: start this one
    if str(held) > minute:
        return str(held), False  # another instance's clock is ahead: count in its minute
    return (minute, False) if fresh else None  # started meanwhile: count in it


def _home_refusal(
    plan: AdmissionPlan, minute: str, old: dict[str, Any] | None
) -> LimitExceededError | None:
    """The limit behind a refused counter item write, from the item as it was (``None`` if
    nothing in it explains the refusal: it changed since)."""
    old = old or {}
    window = old.get(WINDOW_ATTRIBUTE) if str(old.get(MINUTE_ATTRIBUTE)) == minute else None
    counts = window or {}
    for count in plan.windows:
        names = CounterNames(count.scope, count.scope_id)
        requests, tokens = int(counts.get(names.requests, 0)), int(counts.get(names.tokens, 0))
        if count.max_requests is not None and requests >= count.max_requests:
            return LimitExceededError(
                count.scope, LimitKind.REQUESTS, count.max_requests, requests, minute_end(plan.at)
            )
        if count.max_tokens is not None and tokens > count.max_tokens - count.tokens:
            return LimitExceededError(
                count.scope, LimitKind.TOKENS, count.max_tokens, tokens, minute_end(plan.at)
            )
    for reservation in plan.reservations:
        if reservation.scope is Scope.ORG or reservation.cap_micros is None:
            continue
        committed = int(old.get(CounterNames(reservation.scope, reservation.scope_id).committed, 0))
        if committed > reservation.cap_micros - reservation.micros:
            return LimitExceededError(
                reservation.scope,
                LimitKind.SPEND,
                reservation.cap_micros,
                committed,
                plan.month_resets_at,
            )
    return None


def _key_counts(plan: AdmissionPlan, attributes: dict[str, Any]) -> dict[str, int] | None:
    """The key's window after an admission (from ``UPDATED_NEW``)."""
    window = attributes.get(WINDOW_ATTRIBUTE)
    for count in plan.windows:
        if count.scope is Scope.KEY and isinstance(window, dict):
            names = CounterNames(count.scope, count.scope_id)
            if names.requests in window and names.tokens in window:
                return {
                    "requests": int(window[names.requests]),
                    "tokens": int(window[names.tokens]),
                }
    return None


class CounterStore:
    def __init__(self, table: Table, sleep: Any = time.sleep) -> None:
        self.table = table
        self._sleep = sleep

    def admit(self, plan: AdmissionPlan) -> Admission:
        """Count the request against every limit in ``plan``, or none of them: one write on
        the counter item (with the organisation's month, when it is reserved there, one
        transaction of two).

        Raises :class:`LimitExceededError` naming the first limit that refused it, and
        :class:`StoreUnavailableError` when DynamoDB cannot say (fail closed).
        """
        if plan.is_empty:
            return Admission(plan)
        home = plan_home(plan)
        org = next((r for r in plan.reservations if r.scope is Scope.ORG), None)
        minute, fresh = minute_of(plan.at), False
        for _ in range(MAX_WINDOW_TURNS):
            home_update = (
                _home_admission(self.table, plan, home, minute, fresh=fresh) if home else None
            )
            org_update = _org_admission(self.table, org) if org else None
            updates = [u for u in (home_update, org_update) if u is not None]
            try:
                return self._write_admission(plan, updates)
            except ConditionFailedError as error:
                index = error.failed_index() if error.reasons else 0
                old = error.failed_item()
                if old is None:
                    old = self._current(updates[index])
                if org is not None and updates[index] is org_update:
                    raise LimitExceededError(
                        Scope.ORG,
                        LimitKind.SPEND,
                        org.cap_micros or 0,
                        int((old or {}).get("committed_micros", 0)),
                        plan.month_resets_at,
                    ) from error
                turn = _window_turn(plan, minute, fresh, old)
                if turn is not None:
                    minute, fresh = turn
                    continue
                refusal = _home_refusal(plan, minute, old)
                if refusal is not None:
                    raise refusal from error
        raise StoreUnavailableError("the counter item kept changing", conflict=True)

    def _write_admission(self, plan: AdmissionPlan, updates: list[dict[str, Any]]) -> Admission:
        for update in updates:
            if "ConditionExpression" in update:
                update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if len(updates) == 1:  # never resent after a timeout: it would count twice
            response = self.table.write_once({**updates[0], "ReturnValues": "UPDATED_NEW"})
            return Admission(plan, _key_counts(plan, from_item(response.get("Attributes", {}))))
        self._transact(updates)
        return Admission(plan)

    def _transact(self, updates: list[dict[str, Any]]) -> None:
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            try:
                self.table.call(
                    "transact_write_items", TransactItems=[{"Update": u} for u in updates]
                )
                return
            except StoreUnavailableError as error:
                if not error.conflict or attempt == MAX_CONFLICT_RETRIES:
                    raise
                self._sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311

    def _current(self, update: dict[str, Any]) -> dict[str, Any] | None:
        """The item a refused update met, read back when DynamoDB did not return it (only on
        the refusal path, never for an admitted request)."""
        key = from_item(update["Key"])
        return self.table.get(key["pk"], key["sk"])

    def settle(
        self,
        admission: Admission,
        *,
        micros: int,
        usage: UsageRecord | None,
        also: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Replace what admission reserved on the months with the real cost; add the metering
        item. The minute windows keep what admission counted (Groq's own tokens-per-minute
        limit counts a request's output limit too), so they are not written.

        Every write is a single-item ``UpdateItem`` applied at most once
        (:meth:`Table.write_once`): the counter item, the organisation's month or the lease
        drawn on, the metering item, and ``also`` (e.g. the use of a replaced secret). A failed
        upstream call settles with ``micros=0, usage=None``: never metered as spend, its
        reservation released. Raises :class:`SettlementIncompleteError` naming the writes not
        certainly applied, after trying every one.
        """
        plan = admission.plan
        writes = spend_settlement(self.table, plan_home(plan), plan.reservations, micros)
        steps: list[tuple[str, Callable[[], object]]] = [
            (name, partial(self.table.write_once, update)) for name, update in writes
        ]
        draw = admission.org_draw
        if draw is not None and micros:
            steps.append(("organisation", lambda: self._settle_on_lease(draw, micros)))
        if usage is not None:
            metering = usage_update(self.table, usage)
            steps.append(("metering", partial(self.table.write_once, metering)))
        for extra in also:
            steps.append(("secret_use", partial(self.table.write_once, extra)))
        failed: list[str] = []
        errors: list[str] = []
        for name, step in steps:
            try:
                step()
            except (StoreUnavailableError, ConditionFailedError) as error:
                failed.append(name)
                errors.append(f"{name}: {error}")
        if failed:
            raise SettlementIncompleteError(failed, errors)

    def _settle_on_lease(self, draw: LeaseDraw, micros: int) -> None:
        try:
            self.table.write_once(settle_update(self.table, draw.month, draw.lease_id, micros))
        except ConditionFailedError:
            # The lease item is gone: the poller reclaimed it (and gave back what this request
            # held) before this settlement ran. Commit the cost directly.
            self.table.write_once(reclaimed_settle_update(self.table, draw.month, micros))

    def month_spend(
        self, scope: Scope, scope_id: str, month: str, *, team_id: str | None = None
    ) -> MonthSpend:
        """A scope's month; a key's is kept with its team's (``team_id``: the key's team).
        The organisation's includes what its live budget leases used."""
        if scope is Scope.ORG:
            return OrgLeaseStore(self.table).month_spend(month)
        home = scope_pk(scope, scope_id) if scope is Scope.TEAM else counter_home(scope_id, team_id)
        item = self.table.get(home, counter_sk(month)) or {}
        names = CounterNames(scope, scope_id)
        return MonthSpend(
            committed_micros=int(item.get(names.committed, 0)),
            spent_micros=int(item.get(names.spent, 0)),
        )

    def key_moved(
        self, key_id: str, from_team: str | None, to_team: str | None, month: str
    ) -> dict[str, Any] | None:
        """The ``Update`` (for the move's transaction) that gives a key's month figures to its
        new home, or ``None`` when it has none this month. They are copied (``SET``, over
        anything an earlier stay left there), not moved: instances still holding the key's
        old record for up to ``KEY_CACHE_SECONDS`` keep admitting it against the old home,
        which therefore keeps counting it. What they admit in that time is not copied."""
        names = CounterNames(Scope.KEY, key_id)
        held = self.table.get(counter_home(key_id, from_team), counter_sk(month)) or {}
        if names.committed not in held and names.spent not in held:
            return None
        update = _Update()
        update.sets += [
            f"{update.name(names.committed)} = {update.value(int(held.get(names.committed, 0)))}",
            f"{update.name(names.spent)} = {update.value(int(held.get(names.spent, 0)))}",
        ]
        return update.build(self.table, item_key(counter_home(key_id, to_team), counter_sk(month)))

    # -- upgrading from a release with a month item per key and team ------------------------

    def carry_earlier_month(
        self, scope: Scope, scope_id: str, month: str, *, team_id: str | None
    ) -> Carry:
        """Add a key's or team's month item of an earlier release (``SPEND#<month>`` in its
        own partition) to its counter item, once: the old item is marked ``carried_at`` in
        the same transaction, conditional on its figures being the ones read."""
        pk = scope_pk(scope, scope_id)
        earlier = self.table.get(pk, month_sk(month))
        if earlier is None or "carried_at" in earlier:
            return Carry.NOTHING
        committed = int(earlier.get("committed_micros", 0))
        spent = int(earlier.get("spent_micros", 0))
        home = pk if scope is Scope.TEAM else counter_home(scope_id, team_id)
        names = CounterNames(scope, scope_id)
        mark = _Update()
        mark.sets.append(f"{mark.name('carried_at')} = {mark.value(int(time.time()))}")
        carried_at, spent_name = mark.name("carried_at"), mark.name("spent_micros")
        mark.conditions += [
            f"attribute_not_exists({carried_at})",
            f"{mark.name('committed_micros')} = {mark.value(committed)}",
            f"{spent_name} = {mark.value(spent)}"
            if "spent_micros" in earlier
            else f"attribute_not_exists({spent_name})",
        ]
        add = _Update()
        add.adds.append(
            f"{add.name(names.committed)} {add.value(committed)}, "
            f"{add.name(names.spent)} {add.value(spent)}"
        )
        try:
            self._transact(
                [
                    mark.build(self.table, item_key(pk, month_sk(month))),
                    add.build(self.table, item_key(home, counter_sk(month))),
                ]
            )
        except ConditionFailedError:
            return Carry.CHANGED
        return Carry.CARRIED

    def earlier_months_carried(self, month: str) -> bool:
        return self.table.get(MIGRATIONS_PK, _carried_sk(month)) is not None

    def mark_earlier_months_carried(self, month: str, now: datetime) -> None:
        self.table.call(
            "put_item",
            Item=to_item(
                {"pk": MIGRATIONS_PK, "sk": _carried_sk(month), "done_at": now.isoformat()}
            ),
        )

    def window(
        self,
        scope: Scope,
        scope_id: str,
        minute: str,
        *,
        team_id: str | None = None,
        billing_tz: tzinfo = UTC,
    ) -> tuple[int, int]:
        """``(requests, tokens)`` counted in a scope's minute window (``minute``:
        YYYYMMDDHHMM, UTC)."""
        home = scope_pk(scope, scope_id) if scope is Scope.TEAM else counter_home(scope_id, team_id)
        month = month_of(datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC), billing_tz)
        item = self.table.get(home, counter_sk(month)) or {}
        if str(item.get(MINUTE_ATTRIBUTE)) != minute:
            return 0, 0
        counts = item.get(WINDOW_ATTRIBUTE) or {}
        names = CounterNames(scope, scope_id)
        return int(counts.get(names.requests, 0)), int(counts.get(names.tokens, 0))
