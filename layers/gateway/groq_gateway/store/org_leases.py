"""Organisation budget leases in the table. See docs/architecture.md#organisation-budget-leases.

Example::

    for lease in leases.expired(now=time.time()):
        leases.give_back(lease)  # the poller's reclaim
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from groq_gateway.core.budget_leases import LeaseRequest, OrgLease
from groq_gateway.core.limits import MonthSpend
from groq_gateway.store.counter_keys import ORG_PK, item_key, lease_sk, month_sk
from groq_gateway.store.table import ConditionFailedError, Table, to_item

TTL_AFTER_RECLAIM_SECONDS = 7 * 24 * 3600


def _org_month_key(month: str) -> dict[str, Any]:
    return item_key(ORG_PK, month_sk(month))


def _lease_key(month: str, lease_id: str) -> dict[str, Any]:
    return item_key(ORG_PK, lease_sk(month, lease_id))


@dataclass(frozen=True)
class StoredLease:
    """A lease item as the poller reads it."""

    month: str
    lease_id: str
    granted_micros: int
    used_micros: int

    @property
    def returnable_micros(self) -> int:
        return self.granted_micros - self.used_micros


def settle_update(table: Table, month: str, lease_id: str, micros: int) -> dict[str, Any]:
    """A lease-drawn request's real cost, recorded on its lease."""
    return {
        "TableName": table.name,
        "Key": _lease_key(month, lease_id),
        "UpdateExpression": "ADD used_micros :micros",
        "ConditionExpression": "attribute_exists(granted_micros)",
        "ExpressionAttributeValues": to_item({":micros": micros}),
    }


def reclaimed_settle_update(table: Table, month: str, micros: int) -> dict[str, Any]:
    """The same cost when the lease was reclaimed first: the reclaim gave back what the
    request held, so its real cost is committed again, directly."""
    return {
        "TableName": table.name,
        "Key": _org_month_key(month),
        "UpdateExpression": "ADD spent_micros :micros, committed_micros :micros",
        "ExpressionAttributeValues": to_item({":micros": micros}),
    }


class OrgLeaseStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def take(self, request: LeaseRequest, *, cap_micros: int, grace_seconds: float) -> bool:
        """Reserve ``request.micros`` of the organisation's month; ``False`` when the cap
        has no room for it."""
        reclaim_after = int(request.draw_until + grace_seconds) + 1
        try:
            self.table.call(
                "transact_write_items",
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table.name,
                            "Key": _org_month_key(request.month),
                            "UpdateExpression": "ADD committed_micros :micros",
                            "ConditionExpression": (
                                "attribute_not_exists(committed_micros) "
                                "OR committed_micros <= :room"
                            ),
                            "ExpressionAttributeValues": to_item(
                                {":micros": request.micros, ":room": cap_micros - request.micros}
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": to_item(
                                {
                                    "pk": ORG_PK,
                                    "sk": lease_sk(request.month, request.lease_id),
                                    "month": request.month,
                                    "lease_id": request.lease_id,
                                    "granted_micros": request.micros,
                                    "used_micros": 0,
                                    "draw_until": int(request.draw_until),
                                    "reclaim_after": reclaim_after,
                                    "ttl": reclaim_after + TTL_AFTER_RECLAIM_SECONDS,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )
        except ConditionFailedError:
            return False
        return True

    def give_back(self, lease: OrgLease | StoredLease) -> bool:
        """Return what ``lease`` did not use to the organisation and delete it: the instance's
        release of an idle lease, or the poller's reclaim of one its instance never released.
        ``False`` (and nothing written) when the item is gone or records another use than
        the caller saw: a reclaim came first, or a settlement since (the poller then tries
        again at its next run)."""
        try:
            self.table.call(
                "transact_write_items",
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table.name,
                            "Key": _lease_key(lease.month, lease.lease_id),
                            "ConditionExpression": "used_micros = :used",
                            "ExpressionAttributeValues": to_item({":used": lease.used_micros}),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table.name,
                            "Key": _org_month_key(lease.month),
                            "UpdateExpression": "ADD committed_micros :back, spent_micros :used",
                            "ExpressionAttributeValues": to_item(
                                {":back": -lease.returnable_micros, ":used": lease.used_micros}
                            ),
                        }
                    },
                ],
            )
        except ConditionFailedError:
            return False
        return True

    def month_spend(self, month: str) -> MonthSpend:
        """The organisation's month, live leases' use included, and what they hold unused:
        one consistent query over the organisation's partition (the lease items of
        ``month`` sort before its ``SPEND#`` item)."""
        committed = spent = leased = 0
        for item in self.table.query_pages(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues=to_item(
                {":pk": ORG_PK, ":first": lease_sk(month, ""), ":last": month_sk(month)}
            ),
            ConsistentRead=True,
        ):
            sk = str(item["sk"])
            if sk == month_sk(month):
                committed += int(item.get("committed_micros", 0))
                spent += int(item.get("spent_micros", 0))
            elif sk.startswith(lease_sk(month, "")):
                used = int(item.get("used_micros", 0))
                spent += used
                leased += max(0, int(item.get("granted_micros", 0)) - used)
        return MonthSpend(committed_micros=committed, spent_micros=spent, leased_micros=leased)

    def expired(self, now: float) -> list[StoredLease]:
        """Every lease whose ``reclaim_after`` has passed."""
        items = self.table.query_pages(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression="reclaim_after < :now",
            ExpressionAttributeValues=to_item(
                {":pk": ORG_PK, ":prefix": "LEASE#", ":now": int(now)}
            ),
            ConsistentRead=True,
        )
        return [
            StoredLease(
                month=str(item["month"]),
                lease_id=str(item["lease_id"]),
                granted_micros=int(item["granted_micros"]),
                used_micros=int(item.get("used_micros", 0)),
            )
            for item in items
        ]
