"""Admission: the minute windows and monthly caps a request counts against; the store counts it.
See docs/architecture.md#admission-and-settlement.

Example::

    store.counters.admit(admission_plan(key, team, cap, now, estimated_tokens=900, cost_micros=9))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from groq_gateway.core.money import usd_to_micros
from groq_gateway.core.periods import minute_end, minute_of, month_end, month_of
from groq_gateway.core.records import GatewayKey, Team


class Scope(StrEnum):
    KEY = "key"
    TEAM = "team"
    ORG = "org"


class LimitKind(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"
    SPEND = "spend"


@dataclass(frozen=True)
class WindowCount:
    """Add one request and ``tokens`` to a scope's per-minute window, within its limits."""

    scope: Scope
    scope_id: str
    minute: str  # YYYYMMDDHHMM, UTC
    tokens: int
    max_requests: int | None
    max_tokens: int | None


@dataclass(frozen=True)
class SpendReservation:
    """Reserve ``micros`` against a scope's monthly cap."""

    scope: Scope
    scope_id: str
    month: str  # YYYY-MM, billing month (BillingTimezone)
    micros: int
    cap_micros: int | None


@dataclass(frozen=True)
class MonthSpend:
    """A scope's billing month, as its cap sees it.

    ``committed_micros``: settled spend plus what requests in flight reserved (what the cap
    is checked against); for the organisation it also holds its budget leases' slices.
    ``leased_micros``: the part of ``committed_micros`` that live budget leases hold and
    have not used yet (the organisation only; 0 elsewhere).
    """

    committed_micros: int
    spent_micros: int
    leased_micros: int = 0


@dataclass(frozen=True)
class AdmissionPlan:
    """What one request counts against. ``team_id`` is the key's team (whether or not the
    team has limits): a key's counters are kept with its team's (docs/architecture.md#the-table).
    """

    windows: tuple[WindowCount, ...] = ()
    reservations: tuple[SpendReservation, ...] = ()
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    billing_tz: tzinfo = UTC
    team_id: str | None = None

    @property
    def month_resets_at(self) -> datetime:
        return month_end(self.at, self.billing_tz)

    @property
    def is_empty(self) -> bool:
        return not self.windows and not self.reservations


class LimitExceededError(Exception):
    """A request would go over a limit; says which, and when the window resets."""

    def __init__(
        self,
        scope: Scope,
        kind: LimitKind,
        limit: int,
        used: int,
        resets_at: datetime,
        *,
        oversize: bool = False,
    ) -> None:
        super().__init__(f"{scope} {kind} limit {limit} reached")
        self.scope = scope
        self.kind = kind
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        # The request alone is larger than the limit: no window could ever admit it.
        self.oversize = oversize


def admission_plan(
    key: GatewayKey,
    team: Team | None,
    org_cap_micros: int | None,
    at: datetime,
    *,
    estimated_tokens: int,
    cost_micros: int,
    billing_tz: tzinfo = UTC,
) -> AdmissionPlan:
    """What admitting one request counts against, for the key, its team and the org."""
    minute, month = minute_of(at), month_of(at, billing_tz)
    windows = []
    reservations = []
    if key.requests_per_minute or key.tokens_per_minute:
        windows.append(
            WindowCount(
                Scope.KEY,
                key.key_id,
                minute,
                estimated_tokens,
                key.requests_per_minute,
                key.tokens_per_minute,
            )
        )
    if team and (team.requests_per_minute or team.tokens_per_minute):
        windows.append(
            WindowCount(
                Scope.TEAM,
                team.team_id,
                minute,
                estimated_tokens,
                team.requests_per_minute,
                team.tokens_per_minute,
            )
        )
    if key.monthly_budget_usd is not None:
        reservations.append(
            SpendReservation(
                Scope.KEY, key.key_id, month, cost_micros, usd_to_micros(key.monthly_budget_usd)
            )
        )
    if team and team.monthly_budget_usd is not None:
        reservations.append(
            SpendReservation(
                Scope.TEAM,
                team.team_id,
                month,
                cost_micros,
                usd_to_micros(team.monthly_budget_usd),
            )
        )
    if org_cap_micros:
        reservations.append(SpendReservation(Scope.ORG, "org", month, cost_micros, org_cap_micros))
    return AdmissionPlan(tuple(windows), tuple(reservations), at, billing_tz, key.team_id)


def batch_admission_plan(
    key: GatewayKey,
    team: Team | None,
    org_cap_micros: int | None,
    at: datetime,
    *,
    cost_micros: int,
    billing_tz: tzinfo = UTC,
) -> AdmissionPlan:
    """What creating a batch counts against: its worst-case cost reserved on the key's, its
    team's and the organisation's month (those with a cap), and no minute window (Groq runs
    batches outside the per-minute limits)."""
    plan = admission_plan(
        key, team, org_cap_micros, at, estimated_tokens=0, cost_micros=cost_micros,
        billing_tz=billing_tz,
    )  # fmt: skip
    return AdmissionPlan((), plan.reservations, at, billing_tz, plan.team_id)


def check_fits(plan: AdmissionPlan) -> None:
    """Refuse at once what no window could ever admit (e.g. more tokens than the TPM limit)."""
    for window in plan.windows:
        if window.max_tokens is not None and window.tokens > window.max_tokens:
            raise LimitExceededError(
                window.scope,
                LimitKind.TOKENS,
                window.max_tokens,
                0,
                minute_end(plan.at),
                oversize=True,
            )
    for reservation in plan.reservations:
        if reservation.cap_micros is not None and reservation.micros > reservation.cap_micros:
            raise LimitExceededError(
                reservation.scope,
                LimitKind.SPEND,
                reservation.cap_micros,
                0,
                plan.month_resets_at,
                oversize=True,
            )
