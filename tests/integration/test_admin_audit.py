"""The audit log: one entry per change, in the change's own transaction, never a secret."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from groq_gateway.core.records import AuditAction, AuditEntry, AuditTarget
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.audit import MAX_QUERIES_PER_PAGE, AuditStore
from groq_gateway.store.table import from_item
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


async def audit_log(gateway: LocalGateway, **params: Any) -> list[dict[str, Any]]:
    response = await gateway.client.get("/openai/v1/audit-log", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["data"]
    return entries


def every_item(gateway: LocalGateway) -> list[dict[str, Any]]:
    items = gateway.store.table.client.scan(TableName=gateway.store.table.name)["Items"]
    return [from_item(item) for item in items]


async def test_every_change_is_recorded_with_who_what_when_and_where(
    gateway: LocalGateway,
) -> None:
    await gateway.client.post("/openai/v1/teams", json={"id": "chatbot"}, headers=ADMIN)
    created = await gateway.create_key(name="chatbot-prod", team="chatbot")
    key_id = str(created["id"])
    await gateway.client.patch(
        f"/openai/v1/api-keys/{key_id}", json={"requests_per_minute": 50}, headers=ADMIN
    )
    await gateway.client.delete(f"/openai/v1/api-keys/{key_id}", headers=ADMIN)
    await gateway.client.patch(
        "/openai/v1/teams/chatbot", json={"description": "bot"}, headers=ADMIN
    )
    await gateway.client.delete("/openai/v1/teams/chatbot", headers=ADMIN)
    admin_key = await gateway.client.post(
        "/openai/v1/admin-keys", json={"name": "ops", "role": "full"}, headers=ADMIN
    )
    admin_key_id = admin_key.json()["id"]
    await gateway.client.delete(f"/openai/v1/admin-keys/{admin_key_id}", headers=ADMIN)

    entries = await audit_log(gateway)
    assert [(e["action"], e["target_id"]) for e in entries] == [
        ("admin_key.revoked", admin_key_id),
        ("admin_key.created", admin_key_id),
        ("team.deleted", "chatbot"),
        ("team.updated", "chatbot"),
        ("api_key.revoked", key_id),
        ("api_key.updated", key_id),
        ("api_key.created", key_id),
        ("team.created", "chatbot"),
    ]
    assert {(e["actor_id"], e["actor_name"]) for e in entries} == {("bootstrap", "bootstrap-admin")}
    assert {e["source_ip"] for e in entries} == {"127.0.0.1"}
    times = [datetime.fromisoformat(e["at"]) for e in entries]
    assert times == sorted(times, reverse=True)
    assert all(datetime.now(UTC) - t < timedelta(minutes=1) for t in times)

    update = entries[5]
    assert update["target_type"] == "api_key"
    assert update["before"]["requests_per_minute"] is None
    assert update["after"]["requests_per_minute"] == 50
    assert entries[7]["before"] is None
    assert entries[2]["after"] is None
    assert entries[2]["before"]["description"] == "bot"


async def test_no_plaintext_or_hash_ever_reaches_the_audit_log(gateway: LocalGateway) -> None:
    created = await gateway.create_key(name="k")
    admin_key = await gateway.client.post(
        "/openai/v1/admin-keys", json={"name": "ops", "role": "read_only"}, headers=ADMIN
    )
    gateway_key = gateway.store.keys.get(str(created["id"]))
    stored_admin_key = gateway.store.admin_keys.get(admin_key.json()["id"])
    assert gateway_key is not None
    assert stored_admin_key is not None
    secrets = [
        str(created["key"]),
        admin_key.json()["key"],
        gateway_key.secrets[0].secret_hash,
        stored_admin_key.secret_hash,
    ]
    audit_items = [i for i in every_item(gateway) if str(i["pk"]).startswith("AUDIT#")]
    assert len(audit_items) == 2
    raw = json.dumps(audit_items, default=str) + json.dumps(await audit_log(gateway))
    for secret in secrets:
        assert secret not in raw
    assert "hash" not in raw


async def test_a_refused_change_leaves_no_entry(gateway: LocalGateway) -> None:
    await gateway.client.post("/openai/v1/teams", json={"id": "chatbot"}, headers=ADMIN)
    duplicate = await gateway.client.post("/openai/v1/teams", json={"id": "chatbot"}, headers=ADMIN)
    assert duplicate.status_code == 409
    await gateway.create_key(name="k", team="chatbot")
    in_use = await gateway.client.delete("/openai/v1/teams/chatbot", headers=ADMIN)
    assert in_use.status_code == 409
    assert [e["action"] for e in await audit_log(gateway)] == ["api_key.created", "team.created"]


async def test_entry_and_change_are_written_together_or_not_at_all(
    gateway: LocalGateway,
) -> None:
    audit = gateway.store.audit
    team_id = "chatbot"
    await gateway.client.post("/openai/v1/teams", json={"id": team_id}, headers=ADMIN)
    team = gateway.store.teams.get(team_id)
    assert team is not None
    entry = AuditEntry.new(
        actor_id="bootstrap",
        actor_name="bootstrap-admin",
        action=AuditAction.TEAM_CREATED,
        target_type=AuditTarget.TEAM,
        target_id=team_id,
        before=None,
        after={"id": team_id},
        source_ip=None,
        at=datetime.now(UTC),
    )
    with pytest.raises(ConditionFailedError):
        audit.commit(entry, [gateway.store.teams.put_new(team)])  # the id is taken
    assert [e["action"] for e in await audit_log(gateway)] == ["team.created"]
    with pytest.raises(ValueError, match="1 to"):
        audit.commit(entry, [])


async def test_filters_and_pages(gateway: LocalGateway) -> None:
    keys = [await gateway.create_key(name=f"k{n}") for n in range(3)]
    for key in keys:
        await gateway.client.delete(f"/openai/v1/api-keys/{key['id']}", headers=ADMIN)

    revoked = await audit_log(gateway, action="api_key.revoked")
    assert [e["target_id"] for e in revoked] == [k["id"] for k in reversed(keys)]
    about_one = await audit_log(gateway, target=keys[1]["id"])
    assert [e["action"] for e in about_one] == ["api_key.revoked", "api_key.created"]
    assert await audit_log(gateway, actor="someone-else") == []
    by_bootstrap = await audit_log(gateway, actor="bootstrap", action="api_key.created")
    assert len(by_bootstrap) == 3

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4} | ({"after": cursor} if cursor else {})
        page = (
            await gateway.client.get("/openai/v1/audit-log", params=params, headers=ADMIN)
        ).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in await audit_log(gateway, limit=100)]
    assert len(seen) == 6

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert await audit_log(gateway, start=tomorrow, end=tomorrow) == []
    backwards = await gateway.client.get(
        "/openai/v1/audit-log", params={"start": tomorrow, "end": "2020-01-01"}, headers=ADMIN
    )
    assert backwards.status_code == 400
    assert backwards.json()["error"]["param"] == "start"
    bad_action = await gateway.client.get(
        "/openai/v1/audit-log", params={"action": "key.exploded"}, headers=ADMIN
    )
    assert bad_action.status_code == 400
    assert bad_action.json()["error"]["param"] == "action"


def _entry(at: datetime, actor: str = "bootstrap") -> AuditEntry:
    return AuditEntry.new(
        actor_id=actor,
        actor_name=actor,
        action=AuditAction.TEAM_UPDATED,
        target_type=AuditTarget.TEAM,
        target_id="t",
        before={"n": 1},
        after={"n": 2},
        source_ip="203.0.113.7",
        at=at,
    )


def test_pages_walk_back_across_months(local_aws: dict[str, str]) -> None:
    store = GatewayStore(local_aws["GatewayTable"])
    audit: AuditStore = store.audit
    moments = [
        datetime(2026, 9, 30, 23, 59, tzinfo=UTC),
        datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 8, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
    ]
    for moment in moments:
        entry = _entry(moment, actor="alice" if moment.month == 11 else "bob")
        store.table.call("transact_write_items", TransactItems=[audit.put(entry)])

    def walk(**filters: Any) -> list[datetime]:
        found: list[datetime] = []
        cursor = None
        while True:
            page = audit.list_page(
                first_day=date(2026, 9, 1),
                last_day=date(2026, 12, 31),
                limit=1,
                cursor=cursor,
                **filters,
            )
            found += [e.at for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return found

    assert walk() == sorted(moments, reverse=True)
    assert walk(actor_id="alice") == [moments[2], moments[1]]
    assert walk(actor_id="bob") == [moments[3], moments[0]]
    november = audit.list_page(first_day=date(2026, 11, 1), last_day=date(2026, 11, 30))
    assert [e.at for e in november.items] == [moments[2], moments[1]]
    assert november.items[0].before == {"n": 1}


async def test_any_window_of_days_is_a_clean_answer(gateway: LocalGateway) -> None:
    """The first day of the calendar, a start after the end, and a window so long that it
    would query a partition per month for centuries: 200 or 400, never a 500."""
    await gateway.create_key(name="k")
    assert await audit_log(gateway, end="0001-01-01") == []
    assert await audit_log(gateway, start="9999-12-31", end="9999-12-31") == []
    assert len(await audit_log(gateway, start="2020-01-01")) == 1
    for params, fragment in [
        ({"start": "2026-12-02", "end": "2026-12-01"}, "start must not be after end"),
        ({"start": "0001-01-01"}, "at most 3660 days"),
    ]:
        response = await gateway.client.get("/openai/v1/audit-log", params=params, headers=ADMIN)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("invalid_value", "start")
        assert fragment in error["message"]


def counting_queries(store: GatewayStore) -> list[str]:
    """The DynamoDB operations ``store``'s table makes from now on, in order."""
    calls: list[str] = []
    call = store.table.call

    def counted(operation: str, **kwargs: Any) -> dict[str, Any]:
        calls.append(operation)
        return call(operation, **kwargs)

    store.table.call = counted  # type: ignore[method-assign]
    return calls


def test_a_page_does_bounded_work_however_long_the_window_and_rare_the_match(
    local_aws: dict[str, str],
) -> None:
    """Ten years with one entry at each end: a page stops after MAX_QUERIES_PER_PAGE queries
    with a cursor where it stopped, and walking the cursors finds everything, in order."""
    store = GatewayStore(local_aws["GatewayTable"])
    audit: AuditStore = store.audit
    oldest, newest = datetime(2017, 1, 2, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
    for moment in (oldest, newest):
        store.table.call("transact_write_items", TransactItems=[audit.put(_entry(moment))])
    calls = counting_queries(store)

    def walk(**filters: Any) -> tuple[list[datetime], int]:
        found: list[datetime] = []
        cursor, pages = None, 0
        while True:
            calls.clear()
            page = audit.list_page(
                first_day=date(2016, 12, 5),
                last_day=date(2026, 12, 4),
                limit=5,
                cursor=cursor,
                **filters,
            )
            pages += 1
            assert len(calls) <= MAX_QUERIES_PER_PAGE, len(calls)
            found += [e.at for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return found, pages

    everything, pages = walk()
    assert everything == [newest, oldest]
    assert pages >= 121 // MAX_QUERIES_PER_PAGE  # a partition per month, a few per page
    assert walk(action="team.updated")[0] == [newest, oldest]
    assert walk(action="team.deleted")[0] == []
    assert walk(target_id="t")[0] == [newest, oldest]


async def test_a_long_filtered_window_answers_in_pages_through_the_api(
    gateway: LocalGateway,
) -> None:
    key = await gateway.create_key(name="k")
    start = (datetime.now(UTC) - timedelta(days=3650)).date().isoformat()
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        params: dict[str, Any] = {"start": start, "target": key["id"], "limit": 1}
        if cursor:
            params["after"] = cursor
        response = await gateway.client.get("/openai/v1/audit-log", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        seen += [e["target_id"] for e in page["data"]]
        assert page["has_more"] is (page["next_cursor"] is not None)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [key["id"]]
    assert pages > 1  # the empty years are walked page by page, not in one call
