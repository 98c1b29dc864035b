"""Counters: a request admitted in one conditional write, and settled after its response.
See docs/architecture.md#admission-and-settlement.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from groq_gateway.core.periods import minute_end
from groq_gateway.core.records import UsageRecord
from groq_gateway.store.counter_keys import item_key, month_sk, scope_pk, window_sk
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


@dataclass(frozen=True)
class Admission:
    """What admission counted; after a single-item admission, the counts it produced.

    ``org_draw``: the request's cost was held on an organisation budget lease (in memory)
    instead of being reserved on the organisation item; settlement then records it there.
    """

    plan: AdmissionPlan
    counts: dict[str, int] | None = None
    org_draw: LeaseDraw | None = None


def _window_update(table: Table, window: WindowCount, at: datetime) -> dict[str, Any]:
    expires = int((minute_end(at) + timedelta(minutes=2)).timestamp())
    conditions = []
    values: dict[str, Any] = {":one": 1, ":tokens": window.tokens, ":ttl": expires}
    if window.max_requests is not None:
        conditions.append("(attribute_not_exists(requests) OR requests < :max_requests)")
        values[":max_requests"] = window.max_requests
    if window.max_tokens is not None:
        conditions.append("(attribute_not_exists(tokens) OR tokens <= :room)")
        values[":room"] = window.max_tokens - window.tokens
    update: dict[str, Any] = {
        "TableName": table.name,
        "Key": item_key(scope_pk(window.scope, window.scope_id), window_sk(window.minute)),
        "UpdateExpression": (
            "SET #ttl = if_not_exists(#ttl, :ttl) ADD requests :one, tokens :tokens"
        ),
        "ExpressionAttributeNames": {"#ttl": "ttl"},
        "ExpressionAttributeValues": to_item(values),
    }
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return update


def _spend_update(table: Table, reservation: SpendReservation) -> dict[str, Any]:
    values: dict[str, Any] = {":micros": reservation.micros}
    update: dict[str, Any] = {
        "TableName": table.name,
        "Key": item_key(
            scope_pk(reservation.scope, reservation.scope_id), month_sk(reservation.month)
        ),
        "UpdateExpression": "ADD committed_micros :micros",
        "ExpressionAttributeValues": to_item(values),
    }
    if reservation.cap_micros is not None:
        update["ConditionExpression"] = (
            "attribute_not_exists(committed_micros) OR committed_micros <= :room"
        )
        values[":room"] = reservation.cap_micros - reservation.micros
        update["ExpressionAttributeValues"] = to_item(values)
    return update


def _refusal(plan: AdmissionPlan, index: int, old: dict[str, Any] | None) -> LimitExceededError:
    """The limit behind the cancelled update at ``index`` (windows first, then spend)."""
    old = old or {}
    if index < len(plan.windows):
        window = plan.windows[index]
        requests, tokens = int(old.get("requests", 0)), int(old.get("tokens", 0))
        if window.max_requests is not None and requests >= window.max_requests:
            return LimitExceededError(
                window.scope,
                LimitKind.REQUESTS,
                window.max_requests,
                requests,
                minute_end(plan.at),
            )
        return LimitExceededError(
            window.scope, LimitKind.TOKENS, window.max_tokens or 0, tokens, minute_end(plan.at)
        )
    reservation = plan.reservations[index - len(plan.windows)]
    return LimitExceededError(
        reservation.scope,
        LimitKind.SPEND,
        reservation.cap_micros or 0,
        int(old.get("committed_micros", 0)),
        plan.month_resets_at,
    )


class CounterStore:
    def __init__(self, table: Table, sleep: Any = time.sleep) -> None:
        self.table = table
        self._sleep = sleep

    def admit(self, plan: AdmissionPlan) -> Admission:
        """Count the request against every limit in ``plan``, or none of them.

        Raises :class:`LimitExceededError` naming the first limit that refused it, and
        :class:`StoreUnavailableError` when DynamoDB cannot say (fail closed).
        """
        updates = [_window_update(self.table, w, plan.at) for w in plan.windows]
        updates += [_spend_update(self.table, r) for r in plan.reservations]
        if not updates:
            return Admission(plan)
        if len(updates) == 1:
            return self._admit_one(plan, updates[0])
        for update in updates:
            if "ConditionExpression" in update:
                update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._transact(updates, plan)
        return Admission(plan)

    def _admit_one(self, plan: AdmissionPlan, update: dict[str, Any]) -> Admission:
        try:
            response = self.table.call(
                "update_item",
                **update,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailedError as error:
            old = error.item if error.item is not None else self._current(update)
            raise _refusal(plan, 0, old) from error
        counts = {
            k: int(v)
            for k, v in from_item(response.get("Attributes", {})).items()
            if k in ("requests", "tokens", "committed_micros")
        }
        return Admission(plan, counts)

    def _transact(self, updates: list[dict[str, Any]], plan: AdmissionPlan | None) -> None:
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            try:
                self.table.call(
                    "transact_write_items", TransactItems=[{"Update": u} for u in updates]
                )
                return
            except ConditionFailedError as error:
                if plan is None:
                    raise
                index = error.failed_index()
                old = error.failed_item()
                if old is None:
                    old = self._current(updates[index])
                raise _refusal(plan, index, old) from error
            except StoreUnavailableError as error:
                if not error.conflict or attempt == MAX_CONFLICT_RETRIES:
                    raise
                self._sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311

    def _current(self, update: dict[str, Any]) -> dict[str, Any] | None:
        """The counter a refused update met, read back when DynamoDB did not return it
        (only on the refusal path, never for an admitted request)."""
        key = from_item(update["Key"])
        return self.table.get(key["pk"], key["sk"])

    def settle(
        self,
        admission: Admission,
        *,
        tokens: int,
        micros: int,
        usage: UsageRecord | None,
        also: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Replace what admission reserved with the real figures; add the metering item.

        A failed upstream call settles with ``tokens=0, micros=0, usage=None``: it is never
        metered as spend, and its reservation is released. ``also`` are further updates to
        write in the same transaction (e.g. the use of a replaced secret).
        """
        plan = admission.plan
        updates: list[dict[str, Any]] = []
        for window in plan.windows:
            if tokens != window.tokens:
                updates.append(
                    {
                        "TableName": self.table.name,
                        "Key": item_key(
                            scope_pk(window.scope, window.scope_id), window_sk(window.minute)
                        ),
                        "UpdateExpression": "ADD tokens :delta",
                        "ExpressionAttributeValues": to_item({":delta": tokens - window.tokens}),
                    }
                )
        for reservation in plan.reservations:
            if micros == 0 and reservation.micros == 0:
                continue
            updates.append(
                {
                    "TableName": self.table.name,
                    "Key": item_key(
                        scope_pk(reservation.scope, reservation.scope_id),
                        month_sk(reservation.month),
                    ),
                    "UpdateExpression": "ADD committed_micros :delta, spent_micros :spent",
                    "ExpressionAttributeValues": to_item(
                        {":delta": micros - reservation.micros, ":spent": micros}
                    ),
                }
            )
        if usage is not None:
            updates.append(usage_update(self.table, usage))
        updates.extend(also)
        draw = admission.org_draw
        if draw is not None and micros:
            on_lease = [*updates, settle_update(self.table, draw.month, draw.lease_id, micros)]
            try:
                self._write(on_lease)
                return
            except ConditionFailedError as error:
                if error.reasons and error.failed_index() != len(on_lease) - 1:
                    raise  # not the lease's condition (the others have none today)
                # The lease item is gone: the poller reclaimed it (and gave back what this
                # request held) before this settlement ran. Commit the cost directly.
                updates.append(reclaimed_settle_update(self.table, draw.month, micros))
        self._write(updates)

    def _write(self, updates: list[dict[str, Any]]) -> None:
        if len(updates) == 1:
            self.table.call("update_item", **updates[0])
        elif updates:
            self._transact(updates, None)

    def month_spend(self, scope: Scope, scope_id: str, month: str) -> MonthSpend:
        """A scope's month; the organisation's includes what its live budget leases used."""
        if scope is Scope.ORG:
            return OrgLeaseStore(self.table).month_spend(month)
        item = self.table.get(scope_pk(scope, scope_id), month_sk(month)) or {}
        return MonthSpend(
            committed_micros=int(item.get("committed_micros", 0)),
            spent_micros=int(item.get("spent_micros", 0)),
        )

    def window(self, scope: Scope, scope_id: str, minute: str) -> tuple[int, int]:
        """``(requests, tokens)`` counted in a scope's minute window."""
        item = self.table.get(scope_pk(scope, scope_id), window_sk(minute)) or {}
        return int(item.get("requests", 0)), int(item.get("tokens", 0))
