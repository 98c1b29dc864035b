"""The usage poller against moto's server and the Groq simulator, with metering seeded through
the proxy's own admission and settlement writes and the clock injected."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest

from groq_gateway.core.limits import Scope, admission_plan
from groq_gateway.core.metric_names import series_of
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import (
    AuditEntry,
    GatewayKey,
    KeyStatus,
    Team,
    TeamStatus,
    UsageCounts,
    UsageRecord,
)
from groq_gateway.core.rollups import ORG_ID, RollupKey, RollupScope, day_period, month_period
from groq_gateway.core.settings import Settings
from groq_gateway.store import GatewayStore
from groq_gateway.store.notices import NoticeStore
from groq_gateway.store.rollups import RollupStore
from groq_gateway.store.table import from_item, to_item
from groq_gateway.usage_poller.budget_enforcement import MAX_ATTEMPTS, watch_budgets
from groq_gateway.usage_poller.run import handle_poll_event
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway
from tests.integration.test_store import new_key, new_key_with_plaintext

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
GPT = "openai/gpt-oss-20b"
LLAMA = "llama-3.3-70b-versatile"


# -- the world the poller sees -------------------------------------------------------------


@dataclass
class World:
    local_aws: dict[str, str]
    settings: Settings
    store: GatewayStore
    queue_url: str

    @property
    def rollups(self) -> RollupStore:
        return self.store.rollups

    @property
    def notices(self) -> NoticeStore:
        return self.store.notices

    def poll(self, at: datetime, **changes: object) -> dict[str, Any]:
        settings = self.settings.model_copy(update=changes) if changes else self.settings
        return handle_poll_event(
            {"job": "poll-usage"}, settings=settings, store=self.store, now=lambda: at
        )

    def team(self, team_id: str = "chatbot", **fields: object) -> Team:
        values: dict[str, object] = {"team_id": team_id, "created_at": NOW, "updated_at": NOW}
        values.update(fields)
        team = Team.model_validate(values)
        self.store.teams.create(team)
        return team

    def key(self, name: str, **fields: object) -> GatewayKey:
        key = new_key(name, created_at=NOW - timedelta(days=60), **fields)
        key = key.model_copy(update={"updated_at": key.created_at})
        self.store.keys.create(key)
        return key

    def meter(
        self,
        key: GatewayKey,
        at: datetime,
        micros: int,
        *,
        model: str = GPT,
        prompt: int = 100,
        completion: int = 50,
    ) -> None:
        """One call admitted and settled exactly as the proxy does it."""
        team = self.store.teams.get(key.team_id) if key.team_id else None
        plan = admission_plan(
            self.store.keys.get(key.key_id) or key,
            team,
            self.settings.org_cap_micros,
            at,
            estimated_tokens=prompt + completion,
            cost_micros=micros,
            billing_tz=self.settings.billing_tz,
        )
        admission = self.store.counters.admit(plan)
        usage = UsageRecord(
            key_id=key.key_id,
            team_id=key.team_id,
            model=model,
            at=at,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_micros=micros,
        )
        self.store.counters.settle(admission, micros=micros, usage=usage)

    def alerts(self) -> list[dict[str, Any]]:
        """Every event published to the alerts topic since the last call, oldest first."""
        sqs = boto3.client("sqs")
        events = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                events.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return events

    def items(self, prefix: str) -> list[dict[str, Any]]:
        """Every item whose pk starts with ``prefix``, sorted."""
        pages = (
            boto3.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.store.table.name,
                FilterExpression="begins_with(pk, :prefix)",
                ExpressionAttributeValues=to_item({":prefix": prefix}),
            )
        )
        found = [from_item(item) for page in pages for item in page["Items"]]
        return sorted(found, key=lambda item: (item["pk"], item["sk"]))

    def audit(self) -> list[AuditEntry]:
        entries = self.store.audit.list_page(
            first_day=(NOW - timedelta(days=90)).date(),
            last_day=(NOW + timedelta(days=90)).date(),
            actor_id="usage-poller",
            limit=100,
        )
        return list(entries.items)


@pytest.fixture
def world(local_aws: dict[str, str], simulator_url: str) -> World:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="alerts-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    boto3.client("sns").subscribe(
        TopicArn=local_aws["AlertsTopic"], Protocol="sqs", Endpoint=queue_arn
    )
    settings = Settings.model_validate(
        {
            "table_name": local_aws["GatewayTable"],
            "upstream_base_url": simulator_url,
            "upstream_key_secret_id": local_aws["UpstreamKeySecret"],
            "alerts_topic_arn": local_aws["AlertsTopic"],
            "org_monthly_cap_usd": 1000,
        }
    )
    return World(local_aws, settings, GatewayStore(settings.table_name), queue_url)


def rollup(world: World, scope: RollupScope, scope_id: str, period: str) -> UsageCounts | None:
    kind = day_period(period) if len(period) == 10 else month_period(period)
    stored = world.rollups.get(RollupKey(scope, scope_id, kind))
    return None if stored is None else stored.totals


def emf_documents(output: str) -> list[dict[str, Any]]:
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def emitted(output: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every metric in the EMF output: (name, its dimensions other than service) -> value."""
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for document in emf_documents(output):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                extra = tuple(sorted((d, document[d]) for d in dimensions if d != "service"))
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    values[(metric["Name"], extra)] = (
                        value[-1] if isinstance(value, list) else value
                    )
                    assert series_of(metric["Name"], dimensions) is not None, metric["Name"]
    return values


# -- rollups --------------------------------------------------------------------------------


def test_rollups_sum_metering_per_key_team_model_and_org(world: World) -> None:
    world.team("chatbot")
    bot = world.key("bot", team_id="chatbot")
    solo = world.key("solo")
    yesterday = NOW - timedelta(days=1)
    world.meter(bot, yesterday, 1_000, prompt=10, completion=5)
    world.meter(bot, NOW, 2_000, prompt=20, completion=10)
    world.meter(bot, NOW, 4_000, model=LLAMA, prompt=40, completion=20)
    world.meter(solo, NOW, 8_000, prompt=80, completion=40)

    report = world.poll(NOW + timedelta(minutes=1))

    assert report["failed_steps"] == []
    assert rollup(world, RollupScope.KEY, bot.key_id, "2026-11-26") == UsageCounts(
        requests=2, prompt_tokens=60, completion_tokens=30, cost_micros=6_000
    )
    assert rollup(world, RollupScope.KEY, bot.key_id, "2026-11") == UsageCounts(
        requests=3, prompt_tokens=70, completion_tokens=35, cost_micros=7_000
    )
    assert rollup(world, RollupScope.TEAM, "chatbot", "2026-11-25") == UsageCounts(
        requests=1, prompt_tokens=10, completion_tokens=5, cost_micros=1_000
    )
    assert rollup(world, RollupScope.MODEL, GPT, "2026-11") == UsageCounts(
        requests=3, prompt_tokens=110, completion_tokens=55, cost_micros=11_000
    )
    assert rollup(world, RollupScope.MODEL, LLAMA, "2026-11-25") is None
    org_month = rollup(world, RollupScope.ORG, ORG_ID, "2026-11")
    assert org_month is not None
    assert (org_month.requests, org_month.cost_micros) == (4, 15_000)
    assert rollup(world, RollupScope.ORG, ORG_ID, "2026-11-26") == UsageCounts(
        requests=3, prompt_tokens=140, completion_tokens=70, cost_micros=14_000
    )
    # A period lists every scope's rollup through the index.
    listed = {
        (r.key.scope, r.key.scope_id) for r in world.rollups.for_period(month_period("2026-11"))
    }
    assert listed == {
        (RollupScope.KEY, bot.key_id),
        (RollupScope.KEY, solo.key_id),
        (RollupScope.TEAM, "chatbot"),
        (RollupScope.MODEL, GPT),
        (RollupScope.MODEL, LLAMA),
        (RollupScope.ORG, ORG_ID),
    }
    # Day rollups expire with the metering they sum; month rollups stay.
    day_items = [i for i in world.items("ROLLUP#") if i["sk"].startswith("DAY#")]
    month_items = [i for i in world.items("ROLLUP#") if i["sk"].startswith("MONTH#")]
    assert day_items
    assert all(int(i["ttl"]) > NOW.timestamp() + 399 * 86400 for i in day_items)
    assert month_items
    assert all("ttl" not in i for i in month_items)


def test_a_rerun_for_the_same_period_changes_nothing(world: World) -> None:
    key = world.key("bot")
    world.meter(key, NOW, 5_000)
    first = world.poll(NOW + timedelta(minutes=1))
    stored = world.items("ROLLUP#")

    again = world.poll(NOW + timedelta(minutes=6))

    assert first["rollups_written"] == len(stored) == 7  # key, model, org: day and month; org prev
    assert again["rollups_written"] == 0
    assert world.items("ROLLUP#") == stored  # not even computed_at moved

    world.meter(key, NOW + timedelta(minutes=7), 1_000)
    third = world.poll(NOW + timedelta(minutes=11))
    assert third["rollups_written"] == 6  # the same six rollups of this day and month
    assert rollup(world, RollupScope.ORG, ORG_ID, "2026-11") == UsageCounts(
        requests=2, prompt_tokens=200, completion_tokens=100, cost_micros=6_000
    )


def test_an_older_reading_never_overwrites_a_newer_rollup(world: World) -> None:
    key = world.key("bot")
    world.meter(key, NOW, 5_000)
    world.poll(NOW + timedelta(minutes=10))
    month = RollupKey(RollupScope.KEY, key.key_id, month_period("2026-11"))

    assert not world.rollups.put(month, UsageCounts(), NOW + timedelta(minutes=5))

    stored = world.rollups.get(month)
    assert stored is not None
    assert stored.totals.cost_micros == 5_000


def test_the_run_after_midnight_closes_the_previous_month(world: World) -> None:
    key = world.key("bot")
    end_of_november = datetime(2026, 11, 30, 23, 58, tzinfo=UTC)
    world.meter(key, end_of_november, 1_000)
    world.poll(end_of_november + timedelta(minutes=1))
    # A settlement dated before midnight that lands after the run, and December's first call.
    world.meter(key, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), 2_000)
    world.meter(key, datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC), 4_000)

    world.poll(datetime(2026, 12, 1, 0, 1, tzinfo=UTC))

    november = RollupKey(RollupScope.ORG, ORG_ID, month_period("2026-11"))
    stored = world.rollups.get(november)
    assert stored is not None
    assert (stored.totals.requests, stored.totals.cost_micros) == (2, 3_000)
    assert not stored.complete  # settlements may still land for a minute
    assert rollup(world, RollupScope.KEY, key.key_id, "2026-12") == UsageCounts(
        requests=1, prompt_tokens=100, completion_tokens=50, cost_micros=4_000
    )
    assert rollup(world, RollupScope.KEY, key.key_id, "2026-11-30") == UsageCounts(
        requests=2, prompt_tokens=200, completion_tokens=100, cost_micros=3_000
    )

    report = world.poll(datetime(2026, 12, 1, 0, 6, tzinfo=UTC))

    assert report["rollups_written"] == 1  # only November's org rollup, now complete
    assert world.rollups.is_month_complete("2026-11")
    # A closed month is not read again: later runs leave it as it was closed.
    world.meter(key, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), 8_000)
    world.poll(datetime(2026, 12, 1, 0, 11, tzinfo=UTC))
    closed = rollup(world, RollupScope.ORG, ORG_ID, "2026-11")
    assert closed is not None
    assert closed.cost_micros == 3_000


# -- budgets --------------------------------------------------------------------------------


def test_each_threshold_is_notified_once_per_billing_month(world: World) -> None:
    key = world.key("chatbot-prod", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 550_000)
    world.poll(NOW + timedelta(minutes=1))
    world.poll(NOW + timedelta(minutes=6))
    assert [(e["kind"], e["threshold_percent"]) for e in world.alerts()] == [
        ("budget_threshold", 50)
    ]

    world.meter(key, NOW + timedelta(minutes=7), 300_000)
    world.poll(NOW + timedelta(minutes=11))
    world.poll(NOW + timedelta(minutes=16))

    [event] = world.alerts()
    assert event == {
        "kind": "budget_threshold",
        "scope": "key",
        "scope_id": key.key_id,
        "name": "chatbot-prod",
        "threshold_percent": 80,
        "spend_usd": "0.85",
        "budget_usd": "1.00",
        "period": "2026-11",
        "resets_at": "2026-12-01T00:00:00Z",
    }
    stored = world.store.keys.get(key.key_id)
    assert stored is not None
    assert stored.status is KeyStatus.ACTIVE


def test_a_jump_past_several_thresholds_sends_one_event(world: World) -> None:
    world.team("chatbot", monthly_budget_usd=Decimal(10))
    key = world.key("bot", team_id="chatbot")
    world.meter(key, NOW, 8_500_000)

    world.poll(NOW + timedelta(minutes=1))

    assert [(e["scope"], e["threshold_percent"]) for e in world.alerts()] == [("team", 80)]
    assert world.notices.notified_thresholds("2026-11") == {
        (Scope.TEAM, "chatbot"): frozenset({50, 80})
    }


def test_an_exhausted_key_is_paused_audited_and_resumes_next_month(world: World) -> None:
    key = world.key("chatbot-prod", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 1_000_000)

    report = world.poll(NOW + timedelta(minutes=1))

    assert report["paused"] == [f"key:{key.key_id}"]
    paused = world.store.keys.get(key.key_id)
    assert paused is not None
    assert (paused.status, paused.paused_reason) == (KeyStatus.PAUSED, "budget")
    assert [e["kind"] for e in world.alerts()] == ["budget_paused"]
    [entry] = world.audit()
    assert (entry.actor_id, entry.action, entry.target_id) == (
        "usage-poller",
        "api_key.updated",
        key.key_id,
    )
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["status"], entry.after["status"]) == ("active", "paused")
    assert entry.after["paused_reason"] == "budget"

    again = world.poll(NOW + timedelta(minutes=6))
    assert again["paused"] == []
    assert world.alerts() == []

    december = world.poll(datetime(2026, 12, 1, 0, 3, tzinfo=UTC))

    assert december["resumed"] == [f"key:{key.key_id}"]
    resumed = world.store.keys.get(key.key_id)
    assert resumed is not None
    assert (resumed.status, resumed.paused_reason) == (KeyStatus.ACTIVE, None)
    [event] = world.alerts()
    assert event["kind"] == "budget_resumed"
    assert (event["reason"], event["period"], event["spend_usd"]) == (
        "new_billing_month",
        "2026-12",
        "0.00",
    )
    assert len(world.audit()) == 2


def test_keys_paused_for_another_reason_are_never_touched(world: World) -> None:
    key = world.key(
        "frozen",
        monthly_budget_usd=Decimal(1),
        status=KeyStatus.PAUSED,
        paused_reason="security review",
    )
    active = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(active, NOW, 1_000_000)
    # Spend counted before an admin paused the key.
    world.meter(key.model_copy(update={"status": KeyStatus.ACTIVE}), NOW, 1_000_000)

    world.poll(NOW + timedelta(minutes=1))
    world.poll(datetime(2026, 12, 1, 0, 3, tzinfo=UTC))

    frozen = world.store.keys.get(key.key_id)
    assert frozen is not None
    assert (frozen.status, frozen.paused_reason) == (KeyStatus.PAUSED, "security review")
    kinds = {(e["kind"], e["scope_id"]) for e in world.alerts()}
    assert kinds == {
        ("budget_threshold", key.key_id),  # 100 %: told, but not paused by the poller
        ("budget_paused", active.key_id),
        ("budget_resumed", active.key_id),
    }


def test_raising_the_budget_resumes_a_paused_key_within_the_month(world: World) -> None:
    key = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 1_000_000)
    world.poll(NOW + timedelta(minutes=1))
    paused = world.store.keys.get(key.key_id)
    assert paused is not None
    raised = paused.model_copy(
        update={
            "monthly_budget_usd": Decimal(4),
            "updated_at": NOW + timedelta(minutes=3),
            "version": paused.version + 1,
        }
    )
    world.store.table.call(
        "transact_write_items", TransactItems=[world.store.keys.update(paused, raised)]
    )
    world.alerts()

    report = world.poll(NOW + timedelta(minutes=6))

    assert report["resumed"] == [f"key:{key.key_id}"]
    [event] = world.alerts()
    assert (event["kind"], event["reason"], event["budget_usd"]) == (
        "budget_resumed",
        "budget_changed",
        "4.00",
    )


def test_an_admin_who_resumes_without_raising_the_budget_is_overruled(world: World) -> None:
    key = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 1_000_000)
    world.poll(NOW + timedelta(minutes=1))
    paused = world.store.keys.get(key.key_id)
    assert paused is not None
    active = paused.model_copy(
        update={"status": KeyStatus.ACTIVE, "paused_reason": None, "version": paused.version + 1}
    )
    world.store.table.call(
        "transact_write_items", TransactItems=[world.store.keys.update(paused, active)]
    )
    world.alerts()

    world.poll(NOW + timedelta(minutes=6))

    again = world.store.keys.get(key.key_id)
    assert again is not None
    assert (again.status, again.paused_reason) == (KeyStatus.PAUSED, "budget")
    assert [e["kind"] for e in world.alerts()] == ["budget_paused"]


def test_a_key_changed_while_the_poller_decides_is_read_again(world: World) -> None:
    key = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 1_000_000)
    renamed = key.model_copy(update={"name": "bot-renamed", "version": key.version + 1})
    world.store.table.call(
        "transact_write_items", TransactItems=[world.store.keys.update(key, renamed)]
    )

    outcome = watch_budgets(world.settings, world.store, world.notices, [key], [], NOW)

    assert outcome.paused == [f"key:{key.key_id}"]
    stored = world.store.keys.get(key.key_id)
    assert stored is not None
    assert (stored.name, stored.status, stored.version) == ("bot-renamed", KeyStatus.PAUSED, 3)


def test_a_key_that_keeps_changing_waits_for_the_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 1_000_000)
    renamed = key.model_copy(update={"name": "bot-renamed", "version": key.version + 1})
    world.store.table.call(
        "transact_write_items", TransactItems=[world.store.keys.update(key, renamed)]
    )
    reads: list[str] = []

    def stale(key_id: str) -> GatewayKey:
        reads.append(key_id)
        return key  # the version before the rename, at every read: every write conflicts

    monkeypatch.setattr(world.store.keys, "get", stale)
    outcome = watch_budgets(world.settings, world.store, world.notices, [key], [], NOW)
    monkeypatch.undo()

    assert outcome.conflicts == [f"key:{key.key_id}"]
    assert (outcome.paused, outcome.events_queued) == ([], 0)
    assert reads == [key.key_id] * (MAX_ATTEMPTS - 1)
    stored = world.store.keys.get(key.key_id)
    assert stored is not None
    assert (stored.name, stored.status, stored.version) == ("bot-renamed", KeyStatus.ACTIVE, 2)
    assert world.notices.pending() == []


def test_the_organisation_cap_is_watched_and_never_paused(world: World, capsys: Any) -> None:
    key = world.key("bot")
    world.meter(key, NOW, 8_000_000)
    capsys.readouterr()

    world.poll(NOW + timedelta(minutes=1), org_monthly_cap_usd=Decimal(10))

    [event] = world.alerts()
    assert (event["scope"], event["scope_id"], event["threshold_percent"]) == ("org", "org", 80)
    metrics = emitted(capsys.readouterr().out)
    assert metrics[("OrgBudgetUtilizationPercent", ())] == 80
    assert metrics[("OrgMonthToDateSpendUSD", ())] == 8.0


@pytest.mark.anyio
async def test_a_team_paused_for_its_budget_is_refused_and_shown_paused(
    world: World, gateway: LocalGateway
) -> None:
    now = utcnow()
    world.team("chatbot", monthly_budget_usd=Decimal(1))
    key, plaintext = new_key_with_plaintext(team_id="chatbot")
    world.store.keys.create(key)
    world.meter(key, now, 1_000_000)

    report = world.poll(now)

    assert report["paused"] == ["team:chatbot"]
    admin = await gateway.client.get(
        "/openai/v1/teams/chatbot", headers={"authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert (admin.json()["status"], admin.json()["paused_reason"]) == ("paused", "budget")
    refused = await gateway.client.post(
        "/openai/v1/chat/completions",
        json={"model": GPT, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"authorization": f"Bearer {plaintext}"},
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "spending_cap_reached"
    assert refused.headers["x-should-retry"] == "false"
    stored = world.store.teams.get("chatbot")
    assert stored is not None
    assert stored.status is TeamStatus.PAUSED


# -- model retirement ------------------------------------------------------------------------


def test_a_model_groq_no_longer_serves_is_reported_once(world: World) -> None:
    world.team(
        "chatbot",
        allowed_models=[GPT, "mixtral-8x7b-32768"],
        model_aliases={"gemma2-9b-it": "mixtral-8x7b-32768"},
    )
    world.key("legacy-app", allowed_models=["gemma2-9b-it", GPT])
    world.key("aliased-app", team_id="chatbot", allowed_models=["gemma2-9b-it", GPT])
    world.key("gone", allowed_models=["gemma2-9b-it"], status=KeyStatus.REVOKED)

    report = world.poll(NOW)
    world.poll(NOW + timedelta(minutes=5))

    assert report["retired_models"] == ["gemma2-9b-it", "mixtral-8x7b-32768"]
    events = {e["model"]: e for e in world.alerts()}
    assert set(events) == {"gemma2-9b-it", "mixtral-8x7b-32768"}
    assert events["gemma2-9b-it"]["keys"] == ["legacy-app"]  # the alias covers aliased-app
    assert events["mixtral-8x7b-32768"]["teams"] == ["chatbot"]
    assert events["mixtral-8x7b-32768"]["alias_teams"] == ["chatbot"]


# -- failures -------------------------------------------------------------------------------


def test_an_event_sns_refuses_is_published_by_the_next_run(world: World) -> None:
    key = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 600_000)
    missing_topic = world.local_aws["AlertsTopic"] + "-gone"

    failed = world.poll(NOW + timedelta(minutes=1), alerts_topic_arn=missing_topic)

    assert failed["failed_steps"] == ["outbox"]
    assert failed["events_queued"] == 1
    assert failed["events_published"] == 0
    assert world.alerts() == []
    assert len(world.notices.pending()) == 1

    retried = world.poll(NOW + timedelta(minutes=6))

    assert retried["failed_steps"] == []
    assert retried["events_published"] == 1
    assert [e["threshold_percent"] for e in world.alerts()] == [50]
    assert world.notices.pending() == []


def test_an_unavailable_table_is_counted_and_the_run_completes(world: World, capsys: Any) -> None:
    capsys.readouterr()
    broken = GatewayStore("no-such-table")

    report = handle_poll_event(
        {"job": "poll-usage"}, settings=world.settings, store=broken, now=lambda: NOW
    )

    assert report["failed_steps"] == ["catalog", "batches", "directory", "org-leases", "outbox"]
    metrics = emitted(capsys.readouterr().out)
    assert metrics[("PollerRuns", ())] == 1
    assert metrics[("PollerStepFailures", ())] == 5


def test_an_unreachable_upstream_skips_only_what_needs_it(world: World) -> None:
    key = world.key("bot", allowed_models=["gemma2-9b-it"])
    world.meter(key, NOW, 1_000)

    report = world.poll(NOW, upstream_base_url="http://127.0.0.1:9")

    assert report["failed_steps"] == ["catalog"]
    assert report["models"] is None
    assert report["retired_models"] == []  # no catalogue, no verdict on models
    assert rollup(world, RollupScope.KEY, key.key_id, "2026-11") is not None


def test_an_upstream_answering_something_else_than_a_model_list_is_counted(
    world: World,
) -> None:
    class NotGroq(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), NotGroq)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        report = world.poll(NOW, upstream_base_url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()

    assert report["failed_steps"] == ["catalog"]
    assert world.store.catalog.get() is None


# -- metrics --------------------------------------------------------------------------------


def test_metrics_are_catalogued_and_bounded(world: World, capsys: Any) -> None:
    world.team("chatbot", monthly_budget_usd=Decimal(10))
    world.team("research")
    key = world.key("bot", team_id="chatbot")
    world.meter(key, NOW, 2_500_000, prompt=300, completion=200)
    capsys.readouterr()

    world.poll(NOW + timedelta(minutes=1))

    metrics = emitted(capsys.readouterr().out)  # also checks each series is catalogued
    chatbot, research = (("team", "chatbot"),), (("team", "research"),)
    assert metrics[("TeamMonthToDateSpendUSD", chatbot)] == 2.5
    assert metrics[("TeamMonthToDateTokens", chatbot)] == 500
    assert metrics[("TeamMonthToDateRequests", chatbot)] == 1
    assert metrics[("TeamBudgetUtilizationPercent", chatbot)] == 25
    assert metrics[("TeamMonthToDateSpendUSD", research)] == 0
    assert ("TeamBudgetUtilizationPercent", research) not in metrics  # no budget
    assert metrics[("MaxTeamBudgetUtilizationPercent", ())] == 25
    assert metrics[("OrgBudgetUtilizationPercent", ())] == 0
    assert metrics[("OrgMonthToDateRequests", ())] == 1
    assert metrics[("UpstreamRemainingRequests", ())] > 0
    assert metrics[("PollerStepFailures", ())] == 0
    assert metrics[("PollerRuns", ())] == 1
    dimensions = {name for (_, extra) in metrics for name, _ in extra}
    assert dimensions == {"team"}  # never a key id


def test_events_reach_e_mail_subscribers_as_text(world: World) -> None:
    key = world.key("bot", monthly_budget_usd=Decimal(1))
    world.meter(key, NOW, 500_000)
    world.poll(NOW + timedelta(minutes=1))
    [entry] = world.alerts()
    assert entry["threshold_percent"] == 50
    # The outbox kept the e-mail version next to the event (MessageStructure json).
    world.meter(key, NOW + timedelta(minutes=2), 300_000)
    world.poll(NOW + timedelta(minutes=3), alerts_topic_arn=world.local_aws["AlertsTopic"] + "-x")
    [pending] = world.notices.pending()
    assert pending.subject == "groq-gateway: Key bot (" + key.key_id + ") at 80 % of its budget"
    assert pending.email_text.startswith("Key `bot` (`" + key.key_id + "`) has used 80 %")
    assert json.loads(pending.event_json)["threshold_percent"] == 80
