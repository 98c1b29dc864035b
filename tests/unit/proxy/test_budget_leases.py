"""The in-memory half of organisation budget leases (groq_gateway.proxy.budget_leases)."""

from __future__ import annotations

from groq_gateway.proxy.budget_leases import RENEW_BEFORE_SECONDS, OrgBudgetLeases

MONTH = "2026-11"
T0 = 1_795_000_000.0


def leases_with_one(micros: int = 1_000, seconds: float = 60) -> OrgBudgetLeases:
    leases = OrgBudgetLeases(lease_micros=micros, lease_seconds=seconds)
    request = leases.wanted(MONTH, T0)
    assert request is not None
    assert (request.micros, request.month, request.draw_until) == (micros, MONTH, T0 + seconds)
    leases.taken(request)
    return leases


def test_without_a_lease_nothing_is_drawn_and_one_is_wanted() -> None:
    leases = OrgBudgetLeases(lease_micros=1_000, lease_seconds=60)
    assert leases.draw(MONTH, 10, T0) is None
    assert leases.wanted(MONTH, T0) is not None


def test_disabled_leases_are_never_wanted() -> None:
    leases = OrgBudgetLeases(lease_micros=0, lease_seconds=60)
    assert not leases.enabled
    assert leases.wanted(MONTH, T0) is None


def test_draws_hold_the_worst_case_and_settle_to_the_real_cost() -> None:
    leases = leases_with_one()
    first = leases.draw(MONTH, 300, T0 + 1)
    second = leases.draw(MONTH, 300, T0 + 1)
    assert first is not None
    assert second is not None
    lease = first.lease
    assert (lease.available_micros, lease.in_flight) == (400, 2)
    # a third would not fit: the request reserves on the organisation item instead
    assert leases.draw(MONTH, 500, T0 + 1) is None
    leases.settled(first, 120)
    leases.cancel(second)
    assert (lease.used_micros, lease.held_micros, lease.in_flight) == (120, 0, 0)
    assert lease.available_micros == lease.returnable_micros == 880


def test_a_failed_settlement_keeps_its_hold_counted() -> None:
    leases = leases_with_one()
    draw = leases.draw(MONTH, 300, T0)
    assert draw is not None
    leases.unsettled(draw)
    assert draw.lease.in_flight == 0
    assert draw.lease.returnable_micros == 700  # the 300 stay committed: the safe direction


def test_a_lease_serves_only_its_month_and_its_window() -> None:
    leases = leases_with_one(seconds=60)
    assert leases.draw("2026-12", 10, T0) is None
    assert leases.draw(MONTH, 10, T0 + 60) is None
    assert leases.draw(MONTH, 10, T0 + 59) is not None


def test_a_new_lease_is_wanted_when_the_current_one_runs_low_or_out() -> None:
    leases = leases_with_one(micros=1_000, seconds=60)
    assert leases.wanted(MONTH, T0 + 1) is None
    draw = leases.draw(MONTH, 800, T0 + 1)
    assert draw is not None
    assert leases.wanted(MONTH, T0 + 1) is not None  # less than a quarter left
    leases.settled(draw, 100)
    assert leases.wanted(MONTH, T0 + 1) is None
    assert leases.wanted(MONTH, T0 + 60 - RENEW_BEFORE_SECONDS) is not None  # about to close
    assert leases.wanted("2026-12", T0 + 1) is not None  # a new month


def test_no_second_take_while_one_is_in_flight_or_after_a_refusal_or_failure() -> None:
    leases = OrgBudgetLeases(lease_micros=1_000, lease_seconds=60)
    leases.taking = True
    assert leases.wanted(MONTH, T0) is None
    leases.taking = False
    leases.refused(T0)  # the cap had no room: a lease period
    assert leases.wanted(MONTH, T0 + 59) is None
    assert leases.wanted(MONTH, T0 + 60) is not None
    leases.not_taken(T0 + 60)  # DynamoDB failed: a short pause
    assert leases.wanted(MONTH, T0 + 60.5) is None
    assert leases.wanted(MONTH, T0 + 61) is not None


def test_a_lease_is_released_once_closed_and_idle() -> None:
    leases = leases_with_one(seconds=60)
    old = leases.leases[0]
    draw = leases.draw(MONTH, 100, T0)
    assert draw is not None
    assert leases.releasable(T0 + 1) == []  # still the current one
    assert leases.releasable(T0 + 61) == []  # closed, but a request is in flight
    leases.settled(draw, 50)
    assert leases.releasable(T0 + 61) == [old]
    leases.forget(old)
    assert leases.leases == []


def test_a_replaced_lease_is_released_before_its_window_closes() -> None:
    leases = leases_with_one(micros=1_000)
    old = leases.leases[0]
    held = leases.draw(MONTH, 900, T0 + 1)
    assert held is not None
    request = leases.wanted(MONTH, T0 + 1)
    assert request is not None
    new = leases.taken(request)
    assert leases.current(MONTH, T0 + 2) is new
    assert leases.releasable(T0 + 2) == []  # the old one still has a request in flight
    leases.settled(held, 900)
    assert leases.releasable(T0 + 2) == [old]
    assert old.returnable_micros == 100
