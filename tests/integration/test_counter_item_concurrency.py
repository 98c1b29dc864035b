"""The counter item under concurrency from several proxy processes on one table.

A key's and its team's minute windows and months share one item, the counter item
(docs/architecture.md#the-counter-item): admission is one conditional write on it, the first
request of a minute replaces its window map, and settlement is single-item writes applied at
most once, without a transaction. Each test here starts three proxy processes (uvicorn serving
functions/proxy/app.py, as run.sh does in Lambda) on one table of the session's moto server,
in front of the Groq simulator's process, and sends them concurrent bursts. What each proves:

- the shared counter item admits exactly a team's limit when two keys burst through every
  process, and its window counts each key's admissions exactly;
- the turnover race: when the item still holds the previous minute's full window, exactly
  the limit is admitted in the new one (the map is replaced once, and a request that lost
  the race to replace it counts in the new map instead of being refused or replacing again);
- a key budget and a team budget hold (spent <= cap) and every reservation is settled
  (committed == spent);
- settlement without transactions is exact: the metering items, the key's and the team's
  months and the organisation's month (on its budget leases) agree to the micro-dollar.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import minute_of, month_of, utcnow
from groq_gateway.core.records import GatewayKey, Team
from groq_gateway.store import GatewayStore
from groq_gateway.store.counter_keys import CounterNames, counter_sk
from groq_gateway.store.table import to_item
from groq_gateway_dev.devserver.local_aws import LOCAL_AWS_ENV, function_environment
from groq_gateway_dev.devserver.template import TemplateModel
from tests.integration.test_store import new_key_with_plaintext
from tests.minute_window import in_one_window
from tests.processes import proxy_processes
from tests.reliability_report import RELIABILITY

pytestmark = pytest.mark.anyio

PROCESSES = 3
MODEL = "openai/gpt-oss-20b"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
SETTLE_TIMEOUT = 20.0
# Requests in flight on each proxy process at a time (12 writing one counter item at once).
# moto's server runs one call at a time, so a deeper queue only slows its answers (on 2 cores,
# 10 per process put a few past a second), and past the proxy's 1 s read timeout botocore
# sends an admission again, which is then applied twice: a known bug for an UpdateItem
# (test_admission_retry.py); for a TransactWriteItems only on moto, which ignores the
# ClientRequestToken that makes DynamoDB apply the resent transaction once.
IN_FLIGHT = 4
ACROSS = f"{PROCESSES} proxy processes ({IN_FLIGHT * PROCESSES} at once)"


@dataclass
class Fleet:
    """Proxy processes on one table, and what the test reads and writes directly."""

    urls: list[str]
    store: GatewayStore
    simulator: httpx.Client

    def add_team(self, team_id: str, **limits: object) -> None:
        now = utcnow()
        fields = {"team_id": team_id, "created_at": now, "updated_at": now, **limits}
        self.store.teams.create(Team.model_validate(fields))

    def add_key(self, **fields: object) -> tuple[GatewayKey, str]:
        key, plaintext = new_key_with_plaintext(**fields)
        self.store.keys.create(key)
        return key, plaintext

    def warm(self, plaintext: str) -> list[int]:
        """One request through each process in turn; their statuses."""
        statuses = []
        for url in self.urls:
            response = httpx.post(
                f"{url}/openai/v1/chat/completions",
                json=CHAT,
                headers={"authorization": f"Bearer {plaintext}"},
                timeout=30,
            )
            statuses.append(response.status_code)
        return statuses

    def counter_item(self, home: str, month: str) -> dict[str, Any]:
        return self.store.table.get(home, counter_sk(month)) or {}

    def upstream_statuses(self) -> dict[str, int]:
        stats: dict[str, Any] = self.simulator.get("/_simulator/stats").json()
        return {str(k): int(v) for k, v in stats["by_status"].items()}


@pytest.fixture
def proxy_env(
    local_aws: dict[str, str], template: TemplateModel, aws_endpoint: str, simulator_url: str
) -> dict[str, str]:
    """The proxy's environment as `groq-gateway dev` builds it from the template (the
    organisation cap and budget leases at the template's defaults), on this test's table."""
    return {
        **os.environ,
        **LOCAL_AWS_ENV,
        **function_environment(template, local_aws),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "UPSTREAM_BASE_URL": simulator_url,
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def fleet_factory(
    proxy_env: dict[str, str], local_aws: dict[str, str], simulator_url: str, tmp_path: Path
) -> Callable[..., Any]:
    @contextmanager
    def start(*, warm: bool = True, **env: str) -> Iterator[Fleet]:
        """The processes, each warmed by one request of a key of its own (``warm``: its
        imports, connections and organisation lease ready, as a warm Lambda's are)."""
        with (
            httpx.Client(base_url=simulator_url) as simulator,
            proxy_processes(PROCESSES, {**proxy_env, **env}, tmp_path) as urls,
        ):
            fleet = Fleet(urls, GatewayStore(local_aws["GatewayTable"]), simulator)
            if warm:
                fleet.warm(fleet.add_key(name="warm-up")[1])
            simulator.post("/_simulator/reset").raise_for_status()
            yield fleet
        for log in sorted(tmp_path.glob("proxy-*.log")):
            text = log.read_text()
            assert "Traceback" not in text, f"{log.name}:\n{text[-3000:]}"
            assert "after-response work failed" not in text, f"{log.name}:\n{text[-3000:]}"

    return start


async def burst(
    urls: list[str], plaintexts: list[str], each: int, in_flight: int = IN_FLIGHT
) -> dict[str, list[int]]:
    """``each`` requests per key through every process, all started at once, at most
    ``in_flight`` of them waiting on each process at a time; the statuses by key."""
    statuses: dict[str, list[int]] = {p: [] for p in plaintexts}
    gates = {url: anyio.Semaphore(in_flight) for url in urls}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(url: str, plaintext: str) -> None:
            async with gates[url]:
                response = await client.post(
                    f"{url}/openai/v1/chat/completions",
                    json=CHAT,
                    headers={"authorization": f"Bearer {plaintext}"},
                )
            statuses[plaintext].append(response.status_code)

        async with anyio.create_task_group() as group:
            for _ in range(each):
                for url in urls:
                    for plaintext in plaintexts:
                        group.start_soon(one, url, plaintext)
    return statuses


def settled(
    read: Callable[[], dict[str, int]], done: Callable[[dict[str, int]], bool]
) -> dict[str, int]:
    """Poll ``read`` until ``done`` holds of what it read (the after-response work of every
    request has run), or ``SETTLE_TIMEOUT`` passes: the last figures either way."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    figures = read()
    while not done(figures) and time.monotonic() < deadline:
        time.sleep(0.2)
        figures = read()
    return figures


def metering(store: GatewayStore, key_id: str, since: datetime) -> tuple[int, int]:
    """``(requests, cost_micros)`` of a key's metering items from ``since``'s day to today."""
    first, last = since.strftime("%Y-%m-%d"), utcnow().strftime("%Y-%m-%d")
    days = list(store.usage.for_key(key_id, first, last))
    return sum(d.requests for d in days), sum(d.cost_micros for d in days)


def usd(micros: int) -> Decimal:
    return Decimal(micros) / 1_000_000


# -- 1. one counter item shared by a team's keys, written from every process ------------------


async def test_a_teams_shared_counter_item_admits_exactly_its_limit_across_processes(
    fleet_factory: Callable[..., Any],
) -> None:
    with fleet_factory() as fleet:
        fleet.add_team("shared", requests_per_minute=30, monthly_budget_usd=Decimal(50))
        first, first_plain = fleet.add_key(
            team_id="shared", requests_per_minute=100, monthly_budget_usd=Decimal(10)
        )
        second, second_plain = fleet.add_key(
            team_id="shared", requests_per_minute=100, monthly_budget_usd=Decimal(10)
        )
        await in_one_window(15)
        minute, month = minute_of(utcnow()), month_of(utcnow())
        statuses = await burst(fleet.urls, [first_plain, second_plain], each=15)
        item = fleet.counter_item("TEAM#shared", month)
        upstream = fleet.upstream_statuses()
    every = statuses[first_plain] + statuses[second_plain]
    RELIABILITY.count_requests(
        f"2 keys x {len(every) // 2} through {ACROSS}, team at 30 requests/minute "
        "(one counter item)",
        every,
    )
    assert sorted(set(every)) == [200, 429], every
    assert every.count(200) == 30
    assert upstream == {"200": 30}  # nothing refused reached Groq, nothing admitted twice
    assert item["minute"] == minute
    window = item["w"]
    assert window["r"] == 30
    counted = [window.get(CounterNames(Scope.KEY, k.key_id).requests, 0) for k in (first, second)]
    assert sum(counted) == 30
    assert counted == [statuses[first_plain].count(200), statuses[second_plain].count(200)]


# -- 2. the minute turnover race ---------------------------------------------------------------


async def test_the_first_requests_of_a_minute_replace_a_full_window_once_across_processes(
    fleet_factory: Callable[..., Any],
) -> None:
    limit = 20
    with fleet_factory() as fleet:
        fleet.add_team("turnover", requests_per_minute=limit)
        key, plaintext = fleet.add_key(team_id="turnover", requests_per_minute=100)
        names = CounterNames(Scope.KEY, key.key_id)
        await in_one_window(15)
        now = utcnow()
        minute, month = minute_of(now), month_of(now)
        # The item as the previous minute left it: team and key at their limits, so a
        # request that counted on top of it (instead of starting this minute) is refused.
        previous = minute_of(now - timedelta(minutes=1))
        fleet.store.table.call(
            "update_item",
            Key=to_item({"pk": "TEAM#turnover", "sk": counter_sk(month)}),
            UpdateExpression="SET #m = :m, #w = :w",
            ExpressionAttributeNames={"#m": "minute", "#w": "w"},
            ExpressionAttributeValues=to_item(
                {":m": previous, ":w": {"r": limit, "t": 0, names.requests: 100, names.tokens: 0}}
            ),
        )
        statuses = (await burst(fleet.urls, [plaintext], each=20))[plaintext]
        item = fleet.counter_item("TEAM#turnover", month)
        upstream = fleet.upstream_statuses()
    RELIABILITY.count_requests(
        f"{len(statuses)} through {ACROSS} at a minute's start, team at {limit} "
        "requests/minute full in the previous minute",
        statuses,
    )
    assert sorted(set(statuses)) == [200, 429], statuses
    assert statuses.count(200) == limit
    assert upstream == {"200": limit}
    assert item["minute"] == minute
    assert item["w"]["r"] == limit
    assert item["w"][names.requests] == limit


# -- 3. budgets across processes ---------------------------------------------------------------


@pytest.mark.parametrize("budget_of", ["key", "team"])
async def test_a_tiny_budget_holds_across_processes_and_every_reservation_settles(
    fleet_factory: Callable[..., Any], budget_of: str
) -> None:
    cap = 40  # micro-dollars: a handful of requests' worst case
    with fleet_factory() as fleet:
        if budget_of == "key":
            key, plaintext = fleet.add_key(monthly_budget_usd=usd(cap))
            home, names = f"KEY#{key.key_id}", CounterNames(Scope.KEY, key.key_id)
        else:
            fleet.add_team("frugal", monthly_budget_usd=usd(cap))
            key, plaintext = fleet.add_key(team_id="frugal")
            home, names = "TEAM#frugal", CounterNames(Scope.TEAM, "frugal")
        start = utcnow()
        month = month_of(start)
        statuses = (await burst(fleet.urls, [plaintext], each=20))[plaintext]

        def read() -> dict[str, int]:
            item = fleet.counter_item(home, month)
            requests, cost = metering(fleet.store, key.key_id, start)
            return {
                "committed": int(item.get(names.committed, 0)),
                "spent": int(item.get(names.spent, 0)),
                "metered_requests": requests,
                "metered_cost": cost,
            }

        admitted = statuses.count(200)
        figures = settled(
            read,
            lambda f: f["committed"] == f["spent"] and f["metered_requests"] == admitted,
        )
    RELIABILITY.count_requests(
        f"{len(statuses)} through {ACROSS} against a $0.00004 {budget_of} budget",
        statuses,
    )
    assert sorted(set(statuses)) == [200, 429], statuses
    assert 0 < figures["spent"] <= cap, figures
    assert figures["committed"] == figures["spent"], figures
    assert figures["metered_requests"] == admitted, figures
    assert figures["metered_cost"] == figures["spent"], figures


# -- 4. settlement without transactions --------------------------------------------------------


async def test_settlement_in_single_item_writes_is_exact_across_processes(
    fleet_factory: Callable[..., Any],
) -> None:
    each = 40  # per process: 120 requests in all, after one each to warm the processes
    # (the organisation counts nothing else: no other key's warm-up)
    with fleet_factory(warm=False, ORG_MONTHLY_CAP_USD="1000", ORG_LEASE_USD="1") as fleet:
        fleet.add_team("metered", requests_per_minute=10_000, monthly_budget_usd=Decimal(100))
        key, plaintext = fleet.add_key(
            team_id="metered", requests_per_minute=10_000, monthly_budget_usd=Decimal(50)
        )
        start = utcnow()
        month = month_of(start)
        statuses = fleet.warm(plaintext)
        statuses += (await burst(fleet.urls, [plaintext], each=each))[plaintext]
        key_names, team_names = CounterNames(Scope.KEY, key.key_id), CounterNames(Scope.TEAM, "")

        def read() -> dict[str, int]:
            item = fleet.counter_item("TEAM#metered", month)
            requests, cost = metering(fleet.store, key.key_id, start)
            org = fleet.store.counters.month_spend(Scope.ORG, "", month)
            return {
                "metered_requests": requests,
                "metered_cost": cost,
                "key_committed": int(item.get(key_names.committed, 0)),
                "key_spent": int(item.get(key_names.spent, 0)),
                "team_committed": int(item.get(team_names.committed, 0)),
                "team_spent": int(item.get(team_names.spent, 0)),
                "org_spent": org.spent_micros,
            }

        def done(f: dict[str, int]) -> bool:
            return (
                f["metered_requests"] == len(statuses)
                and len({f["metered_cost"], f["key_spent"], f["team_spent"], f["org_spent"]}) == 1
                and f["key_committed"] == f["key_spent"]
                and f["team_committed"] == f["team_spent"]
            )

        figures = settled(read, done)
        upstream = fleet.upstream_statuses()
    RELIABILITY.count_requests(
        f"{len(statuses)} through {ACROSS}, team key with budgets and an organisation "
        "lease (settled in single-item writes)",
        statuses,
    )
    RELIABILITY.count_money(
        "settled requests metered exactly across processes", figures["metered_requests"]
    )
    assert statuses == [200] * PROCESSES * (each + 1)
    assert upstream == {"200": len(statuses)}
    assert figures["metered_requests"] == len(statuses), figures
    assert figures["metered_cost"] > 0, figures
    for spent in ("key_spent", "team_spent", "org_spent"):
        assert figures[spent] == figures["metered_cost"], figures
    assert figures["key_committed"] == figures["key_spent"], figures
    assert figures["team_committed"] == figures["team_spent"], figures
