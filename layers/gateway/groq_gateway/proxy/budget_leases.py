"""This instance's organisation budget leases: drawn on in memory at admission, given back
and taken after responses. See docs/architecture.md#organisation-budget-leases.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import anyio.to_thread

from groq_gateway.core.budget_leases import LeaseDraw, LeaseRequest, OrgLease
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.settings import Settings
from groq_gateway.store import GatewayStore, StoreUnavailableError

# A lease is topped up (a new one taken) once less than this share of it is left, or it is
# this close (seconds) to the end of its draw window; the old one is released when idle.
LOW_WATER_SHARE = 4
RENEW_BEFORE_SECONDS = 10.0
RETRY_AFTER_ERROR_SECONDS = 1.0


@dataclass
class OrgBudgetLeases:
    """This instance's leases. Not thread-safe: used from the event loop only (every method
    is synchronous, so a draw's check and its hold cannot interleave with another's).

    Example::

        leases = OrgBudgetLeases(lease_micros=1_000_000, lease_seconds=60)
        draw = leases.draw("2026-11", 1_200, now=time.time())  # None: no lease yet
        wanted = leases.wanted("2026-11", now=time.time())      # -> a new lease to take
    """

    lease_micros: int
    lease_seconds: float
    leases: list[OrgLease] = field(default_factory=list)
    # After the cap refused a lease, no new one is asked for until then (epoch seconds).
    refused_until: float = 0.0
    taking: bool = False

    @property
    def enabled(self) -> bool:
        return self.lease_micros > 0

    def current(self, month: str, now: float) -> OrgLease | None:
        """The newest lease still open for draws in ``month``."""
        for lease in reversed(self.leases):
            if lease.month == month and now < lease.draw_until:
                return lease
        return None

    def draw(self, month: str, micros: int, now: float) -> LeaseDraw | None:
        """Hold ``micros`` on the current lease, or ``None`` when no lease covers it."""
        lease = self.current(month, now)
        if lease is None or not lease.drawable(month, micros, now):
            return None
        lease.held_micros += micros
        lease.in_flight += 1
        return LeaseDraw(lease, micros)

    def cancel(self, draw: LeaseDraw) -> None:
        """The request was refused or never admitted: it spent nothing."""
        draw.lease.held_micros -= draw.micros
        draw.lease.in_flight -= 1

    def settled(self, draw: LeaseDraw, used_micros: int) -> None:
        """The request settled: its real cost is on the lease item."""
        draw.lease.held_micros -= draw.micros
        draw.lease.used_micros += used_micros
        draw.lease.in_flight -= 1

    def unsettled(self, draw: LeaseDraw) -> None:
        """The request's settlement failed: what it held stays counted against the cap."""
        draw.lease.held_micros -= draw.micros
        draw.lease.stuck_micros += draw.micros
        draw.lease.in_flight -= 1

    def wanted(self, month: str, now: float) -> LeaseRequest | None:
        """A new lease to take for ``month``, if the current one runs low or out."""
        if not self.enabled or self.taking or now < self.refused_until:
            return None
        lease = self.current(month, now)
        if lease is not None and (
            lease.available_micros * LOW_WATER_SHARE >= lease.granted_micros
            and lease.draw_until - now > RENEW_BEFORE_SECONDS
        ):
            return None
        return LeaseRequest(
            lease_id=secrets.token_hex(8),
            month=month,
            micros=self.lease_micros,
            draw_until=now + self.lease_seconds,
        )

    def taken(self, request: LeaseRequest) -> OrgLease:
        lease = OrgLease(
            lease_id=request.lease_id,
            month=request.month,
            granted_micros=request.micros,
            draw_until=request.draw_until,
        )
        self.leases.append(lease)
        return lease

    def refused(self, now: float) -> None:
        """The cap had no room for a lease: requests reserve directly for a lease period
        before another lease is asked for."""
        self.refused_until = now + self.lease_seconds

    def not_taken(self, now: float) -> None:
        """DynamoDB could not take the lease (throttled, conflicting, unreachable): ask again
        after a short pause, not on every response meanwhile."""
        self.refused_until = now + RETRY_AFTER_ERROR_SECONDS

    def releasable(self, now: float) -> list[OrgLease]:
        """Leases that can no longer be drawn on and have nothing in flight."""
        newest = {lease.month: lease for lease in self.leases}
        return [
            lease
            for lease in self.leases
            if lease.in_flight == 0
            and (now >= lease.draw_until or newest[lease.month] is not lease)
        ]

    def forget(self, lease: OrgLease) -> None:
        """Released (or reclaimed by the poller): drop it."""
        self.leases = [held for held in self.leases if held is not lease]


async def tend_org_leases(leases: OrgBudgetLeases, store: GatewayStore, settings: Settings) -> None:
    """After a response: give back idle leases, take a new one when the current one runs
    low. A failure is logged; the next response tries again (and the poller reclaims
    what is never given back)."""
    at = utcnow()
    now = at.timestamp()
    for lease in leases.releasable(now):
        try:
            await anyio.to_thread.run_sync(store.org_leases.give_back, lease)
        except StoreUnavailableError as error:
            logger.warning("organisation lease not released", extra={"error": str(error)})
            continue
        leases.forget(lease)  # released, or already reclaimed by the poller
    request = leases.wanted(month_of(at, settings.billing_tz), now)
    cap = settings.org_cap_micros
    if request is None or cap is None:
        return
    leases.taking = True
    try:
        taken = await anyio.to_thread.run_sync(
            lambda: store.org_leases.take(
                request, cap_micros=cap, grace_seconds=settings.org_lease_grace_seconds
            )
        )
    except StoreUnavailableError as error:
        logger.warning("organisation lease not taken", extra={"error": str(error)})
        leases.not_taken(now)
        return
    finally:
        leases.taking = False
    if taken:
        leases.taken(request)
    else:
        leases.refused(now)
