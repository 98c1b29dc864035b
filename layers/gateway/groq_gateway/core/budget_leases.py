"""Organisation budget lease records: a slice of the organisation's monthly cap and a draw on it.

See docs/architecture.md#organisation-budget-leases.
"""

from __future__ import annotations

from dataclasses import dataclass


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
