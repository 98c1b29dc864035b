"""Organisation budget leases, as a state machine against moto's server: whatever the order
of requests, settlements, failures, instances going away, time passing and poller runs, the
organisation's cap is never passed, every settled cost is counted exactly once, and once
everything is settled and every lease given back or reclaimed, the books balance.

Several proxy instances (real :class:`Pipeline` objects, each with its own leases) share one
table; admission, settlement and lease upkeep are the proxy's own code. Each example uses
a month of its own, so examples do not see each other's counters.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.limits import Scope
from groq_gateway.core.pricing import default_price_book
from groq_gateway.core.settings import Settings
from groq_gateway.proxy import budget_leases, pipeline, rate_limits, settlement
from groq_gateway.proxy.budget_leases import tend_org_leases
from groq_gateway.proxy.forward import Forward
from groq_gateway.proxy.pipeline import Pipeline
from groq_gateway.proxy.policy import Principal
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.upstream import Upstream
from groq_gateway.proxy.usage_tap import ObservedUsage
from groq_gateway.secrets_manager import UpstreamKeys
from groq_gateway.store import GatewayStore
from groq_gateway.store.counters import Admission
from groq_gateway.usage_poller.lease_reclaim import reclaim_org_leases
from tests.integration.conftest import gateway_settings
from tests.integration.test_store import new_key_with_plaintext
from tests.reliability_report import RELIABILITY

MODEL = "openai/gpt-oss-20b"
CAP_MICROS = 20_000
LEASE_MICROS = 2_500
LEASE_SECONDS = 60.0
GRACE_SECONDS = 600.0
INSTANCES = 2
PRICES = default_price_book()
_months = itertools.count()


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class InFlight:
    instance: int
    admission: Admission
    forward: Forward
    direct: bool  # reserved on the organisation item, not on a lease


def cost(prompt: int, completion: int) -> int:
    return PRICES.token_cost(MODEL, prompt, completion).micros


class OrgLeaseMachine(RuleBasedStateMachine):
    settings: Settings
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        index = next(_months)
        self.clock.now = datetime(2100 + index // 12, index % 12 + 1, 1, 0, 5, tzinfo=UTC)
        self.month = self.clock.now.strftime("%Y-%m")
        self.store = GatewayStore(self.settings.table_name)
        key, _ = new_key_with_plaintext()
        self.principal = Principal(key=key, team=None)
        self.proxies = [self.new_proxy() for _ in range(INSTANCES)]
        RELIABILITY.count_input("organisation budget leases: state-machine runs")
        self.in_flight: list[InFlight] = []
        self.settled_micros = 0
        self.stranded_micros = 0  # direct reservations of requests whose instance went away

    def new_proxy(self) -> Pipeline:
        upstream = Upstream("http://upstream.test", UpstreamKeys("unused", 60), 5.0)
        return Pipeline(settings=self.settings, store=self.store, prices=PRICES, upstream=upstream)

    def org(self) -> tuple[int, int]:
        spend = self.store.counters.month_spend(Scope.ORG, "org", self.month)
        return spend.committed_micros, spend.spent_micros

    # -- rules --------------------------------------------------------------------------

    @rule(
        instance=st.integers(0, INSTANCES - 1),
        sizes=st.lists(
            st.tuples(st.integers(0, 400), st.integers(0, 6_000)), min_size=1, max_size=4
        ),
    )
    def requests(self, instance: int, sizes: list[tuple[int, int]]) -> None:
        """A few requests arriving at one instance, each admitted before any settles."""
        for prompt, completion_limit in sizes:
            self.admit(instance, prompt, completion_limit)

    def admit(self, instance: int, prompt: int, completion_limit: int) -> None:
        RELIABILITY.count_input("organisation budget leases: requests admitted or refused")
        forward = Forward(
            body=b"{}",
            model=MODEL,
            prompt_tokens=prompt,
            completion_tokens=completion_limit,
            cost_micros=cost(prompt, completion_limit),
        )
        proxy = self.proxies[instance]
        try:
            admission = asyncio.run(proxy.admit(self.principal, forward))
        except GatewayError as error:
            refusal = (error.status, error.code)
        else:
            direct = admission.org_draw is None
            self.in_flight.append(InFlight(instance, admission, forward, direct))
            return
        assert refusal == (429, "spending_cap_reached")
        committed, _ = self.org()
        assert committed + forward.cost_micros > CAP_MICROS  # refused only when it must be

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), succeeded=st.booleans())
    def finish(self, data: st.DataObject, succeeded: bool) -> None:
        flight = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        observed = None
        if succeeded:
            limit = flight.forward.completion_tokens
            completion = data.draw(st.one_of(st.just(limit), st.integers(0, limit)))
            observed = ObservedUsage(
                prompt_tokens=flight.forward.prompt_tokens, completion_tokens=completion
            )
            self.settled_micros += cost(flight.forward.prompt_tokens, completion)
        proxy = self.proxies[flight.instance]
        telemetry = RequestTelemetry(path="chat/completions")
        asyncio.run(
            proxy.settlement.settle(
                flight.admission, self.principal, flight.forward, observed, telemetry
            )
        )

    @rule(seconds=st.one_of(st.floats(0, 10), st.floats(0, 3 * LEASE_SECONDS)))
    def tick(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @rule()
    def poll(self) -> None:
        reclaim_org_leases(self.store, self.clock.now)

    @precondition(lambda self: len(self.in_flight) % 4 == 1)  # now and then
    @rule(instance=st.integers(0, INSTANCES - 1))
    def instance_goes_away(self, instance: int) -> None:
        for flight in [f for f in self.in_flight if f.instance == instance]:
            self.in_flight.remove(flight)
            if flight.direct:
                self.stranded_micros += flight.forward.cost_micros
        self.proxies[instance] = self.new_proxy()

    # -- what always holds ---------------------------------------------------------------

    def leases(self) -> list[dict[str, object]]:
        return list(
            self.store.table.query_pages(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": "ORG"},
                    ":prefix": {"S": f"LEASE#{self.month}#"},
                },
            )
        )

    @invariant()
    def never_over_the_cap_and_every_cost_counted_once(self) -> None:
        committed, spent = self.org()
        assert spent <= committed <= CAP_MICROS
        assert spent == self.settled_micros
        for lease in self.leases():  # real costs never exceed estimates here, so:
            assert int(str(lease["used_micros"])) <= int(str(lease["granted_micros"]))
        for proxy in self.proxies:  # and no instance holds more than it leased
            for held in proxy.org_leases.leases:
                assert held.available_micros >= 0

    def teardown(self) -> None:
        """Settle what is in flight, let every lease close, give back and reclaim: the
        organisation's committed is then its spend (plus what vanished instances reserved
        directly, which stays counted: the safe direction)."""
        while self.in_flight:
            flight = self.in_flight.pop()
            proxy = self.proxies[flight.instance]
            telemetry = RequestTelemetry(path="chat/completions")
            asyncio.run(
                proxy.settlement.settle(
                    flight.admission, self.principal, flight.forward, None, telemetry
                )
            )
        self.clock.now += timedelta(seconds=LEASE_SECONDS + 1)
        for proxy in self.proxies:
            # gives back its closed lease
            asyncio.run(tend_org_leases(proxy.org_leases, self.store, self.settings))
        self.clock.now += timedelta(seconds=LEASE_SECONDS + GRACE_SECONDS + 2)
        reclaim_org_leases(self.store, self.clock.now)  # and what the new leases never used
        committed, spent = self.org()
        assert spent == self.settled_micros
        assert committed == spent + self.stranded_micros
        leases = self.leases()
        assert leases == []


def test_leases_never_pass_the_cap_and_always_balance(
    local_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(datetime(2100, 1, 1, tzinfo=UTC))
    for module in (pipeline, settlement, budget_leases, rate_limits):
        monkeypatch.setattr(module, "utcnow", clock)
    OrgLeaseMachine.settings = gateway_settings(
        local_aws,
        org_monthly_cap_usd=Decimal(CAP_MICROS) / 1_000_000,
        org_lease_usd=Decimal(LEASE_MICROS) / 1_000_000,
        org_lease_seconds=LEASE_SECONDS,
        org_lease_grace_seconds=GRACE_SECONDS,
    )
    OrgLeaseMachine.clock = clock
    run_state_machine_as_test(
        OrgLeaseMachine,
        settings=settings(
            # each example is a few dozen DynamoDB calls: 25 by default, 100 in `make proof`
            max_examples=max(25, settings.default.max_examples // 20),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
