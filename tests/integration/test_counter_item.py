"""The counter item's life beyond admission and settlement: a key's month goes with it when it
moves to another team, and a deployment upgraded from a release that kept each key's and
team's month in its own item carries this billing month's figures into the counter item once."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from groq_gateway.core.limits import Scope
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.store import GatewayStore
from groq_gateway.usage_poller.counter_migration import carry_earlier_months
from groq_gateway.usage_poller.run import poll
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway
from tests.integration.test_proxy_limits_and_metering import add_key, add_team, chat

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


async def test_a_key_moved_to_another_team_keeps_its_month(gateway: LocalGateway) -> None:
    store, month = gateway.store, month_of(utcnow())
    first = add_team(gateway, team_id="first")
    add_team(gateway, team_id="second")
    key, secret = add_key(gateway, team_id=first.team_id, monthly_budget_usd=Decimal("0.0001"))
    statuses = []
    while not statuses or statuses[-1] == 200:  # spend the key's budget in its first team
        statuses.append((await chat(gateway, secret)).status_code)
        assert len(statuses) < 50
    before = store.counters.month_spend(Scope.KEY, key.key_id, month, team_id="first")
    assert before.spent_micros > 0

    moved = await gateway.client.patch(
        f"/openai/v1/api-keys/{key.key_id}", json={"team": "second"}, headers=ADMIN
    )
    assert moved.status_code == 200, moved.text

    after = store.counters.month_spend(Scope.KEY, key.key_id, month, team_id="second")
    assert after == before
    await anyio.sleep(gateway.settings.key_cache_seconds + 0.05)  # every instance sees the move
    refused = await chat(gateway, secret)
    assert refused.status_code == 429  # before: a fresh budget in its new team
    assert refused.json()["error"]["code"] == "spending_cap_reached"
    # And back again: the first team's copy is replaced, not added to.
    back = await gateway.client.patch(
        f"/openai/v1/api-keys/{key.key_id}", json={"team": "first"}, headers=ADMIN
    )
    assert back.status_code == 200, back.text
    assert store.counters.month_spend(Scope.KEY, key.key_id, month, team_id="first") == after


def earlier_month_item(store: GatewayStore, pk: str, committed: int, spent: int) -> None:
    """A month item as the earlier release wrote it."""
    store.table.call(
        "put_item",
        Item={
            "pk": {"S": pk},
            "sk": {"S": f"SPEND#{month_of(utcnow())}"},
            "committed_micros": {"N": str(committed)},
            "spent_micros": {"N": str(spent)},
        },
    )


async def test_an_upgrade_mid_month_keeps_what_keys_and_teams_spent(
    gateway: LocalGateway,
) -> None:
    store, month, now = gateway.store, month_of(utcnow()), utcnow()
    team = add_team(gateway, monthly_budget_usd=Decimal("10"))
    in_team, in_team_secret = add_key(
        gateway, team_id=team.team_id, monthly_budget_usd=Decimal("0.004")
    )
    alone, _ = add_key(gateway, monthly_budget_usd=Decimal("1"))
    earlier_month_item(store, f"TEAM#{team.team_id}", 3_000_000, 2_900_000)
    earlier_month_item(store, f"KEY#{in_team.key_id}", 4_000, 3_900)
    earlier_month_item(store, f"KEY#{alone.key_id}", 700_000, 700_000)

    report = poll(gateway.settings, store, now, "poll-usage")

    assert report.months_carried == 3
    spend = store.counters.month_spend
    assert spend(Scope.TEAM, team.team_id, month).spent_micros == 2_900_000
    key_spend = spend(Scope.KEY, in_team.key_id, month, team_id=team.team_id)
    assert (key_spend.committed_micros, key_spend.spent_micros) == (4_000, 3_900)
    assert spend(Scope.KEY, alone.key_id, month).committed_micros == 700_000
    # The key's $0.004 budget is spent: its next request is refused, as before the upgrade.
    refused = await chat(gateway, in_team_secret)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "spending_cap_reached"
    # Carried once: later runs change nothing and read nothing more.
    assert (
        carry_earlier_months(store, [in_team, alone], [team], now, gateway.settings.billing_tz) == 0
    )
    assert spend(Scope.TEAM, team.team_id, month).committed_micros == 3_000_000


async def test_an_item_that_changes_while_it_is_carried_is_left_for_the_next_run(
    gateway: LocalGateway,
) -> None:
    store, month = gateway.store, month_of(utcnow())
    key, _ = add_key(gateway, monthly_budget_usd=Decimal("1"))
    earlier_month_item(store, f"KEY#{key.key_id}", 500, 400)
    real_get = store.table.get

    def get_then_settle(pk: str, sk: str, **kwargs: object) -> dict[str, object] | None:
        item = real_get(pk, sk)
        if sk.startswith("SPEND#"):  # an earlier release's settlement lands after the read
            earlier_month_item(store, pk, 450, 450)
        return item

    store.table.get = get_then_settle  # type: ignore[method-assign]
    try:
        # Not carried, and the month is not marked done: the next run tries again.
        assert carry_earlier_months(store, [key], [], utcnow(), gateway.settings.billing_tz) == 0
    finally:
        store.table.get = real_get  # type: ignore[method-assign]
    assert not store.counters.earlier_months_carried(month)
    assert store.counters.month_spend(Scope.KEY, key.key_id, month).committed_micros == 0
    assert carry_earlier_months(store, [key], [], utcnow(), gateway.settings.billing_tz) == 1
    assert store.counters.earlier_months_carried(month)
    spend = store.counters.month_spend(Scope.KEY, key.key_id, month)
    assert (spend.committed_micros, spend.spent_micros) == (450, 450)
