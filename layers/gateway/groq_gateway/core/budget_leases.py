"""Organisation budget leases: the organisation's monthly cap off the per-request path.

Every request counts against the organisation's cap, so without leases every admission
writes the one organisation item: a two-item transaction even for a key with one limit, and
a hot item that every instance writes. With leases, a proxy instance reserves a slice of
the organisation's remaining budget at once (one conditional write, after a response), and
admits requests against that slice in memory. The cap still holds exactly: the slice was
added to the organisation's ``committed_micros`` when it was taken, under the same condition
as a single request's reservation, so the sum of all slices and direct reservations never
passes the cap. What a slice did not use goes back when the instance releases it, or, if the
instance went away, when the usage poller reclaims it.

The rules (this module is the in-memory half; :mod:`groq_gateway.store.org_leases` writes):

* A lease is drawn on only until its ``draw_until`` and only for its month. A draw holds
  the request's worst-case cost; settlement replaces it with the real cost (``used``).
* The instance releases a lease once it can no longer be drawn on and nothing drawn on it
  is in flight: it gives back ``granted - used - stuck`` (``stuck``: reservations whose
  settlement failed stay counted, the safe direction).
* The poller reclaims a lease ``grace`` seconds after ``draw_until`` (longer than any
  request can run), giving back ``granted - used`` as the lease item records it.
* When no lease covers a request (none taken yet, the cap too close for a new one, another
  month), the request reserves against the organisation item directly, in its admission
  transaction, as before. Near the cap every request is checked exactly.

Example::

    leases = OrgBudgetLeases(lease_micros=1_000_000, lease_seconds=60)
    draw = leases.draw("2026-11", 1_200, now=time.time())  # None: no lease yet
    wanted = leases.wanted("2026-11", now=time.time())      # -> a new lease to take
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

# A lease is topped up (a new one taken) once less than this share of it is left, or it is
# this close (seconds) to the end of its draw window; the old one is released when idle.
LOW_WATER_SHARE = 4
RENEW_BEFORE_SECONDS = 10.0
RETRY_AFTER_ERROR_SECONDS = 1.0


@dataclass
class OrgLease:
    """One slice of the organisation's monthly budget, held by this instance."""

    lease_id: str
    month: str  # YYYY-MM in the billing timezone
    granted_micros: int
    draw_until: float  # epoch seconds: no draw after this
    used_micros: int = 0  # real cost of settled requests, as the lease item records it
    held_micros: int = 0  # worst-case cost of requests in flight
    stuck_micros: int = 0  # held by requests whose settlement failed: never given back here
    in_flight: int = 0

    @property
    def available_micros(self) -> int:
        return self.granted_micros - self.used_micros - self.held_micros - self.stuck_micros

    @property
    def returnable_micros(self) -> int:
        """What releasing the lease gives back to the organisation (may be negative when
        real costs passed the estimates: releasing then adds the difference)."""
        return self.granted_micros - self.used_micros - self.stuck_micros

    def drawable(self, month: str, micros: int, now: float) -> bool:
        return self.month == month and now < self.draw_until and micros <= self.available_micros


@dataclass(frozen=True)
class LeaseDraw:
    """A request's worst-case cost, held on a lease instead of the organisation item."""

    lease: OrgLease
    micros: int

    @property
    def lease_id(self) -> str:
        return self.lease.lease_id

    @property
    def month(self) -> str:
        return self.lease.month


@dataclass(frozen=True)
class LeaseRequest:
    """A lease this instance should take: one conditional write, after a response."""

    lease_id: str
    month: str
    micros: int
    draw_until: float


@dataclass
class OrgBudgetLeases:
    """This instance's leases. Not thread-safe: used from the event loop only (every method
    is synchronous, so a draw's check and its hold cannot interleave with another's)."""

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
        lease = OrgLease(request.lease_id, request.month, request.micros, request.draw_until)
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
