"""The admin repositories' reads and writes on moto's server and on dynalite.

dynalite validates expressions more strictly than moto (unused names or values, reserved
words, start keys); it has no TransactWriteItems, so each transaction item is also run here
as the single write it describes, which DynamoDB validates the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from groq_gateway.core.key_format import ADMIN_KEY_PREFIX, mint_key
from groq_gateway.core.records import (
    AdminKey,
    AdminKeyStatus,
    AdminRole,
    AuditAction,
    AuditEntry,
    AuditTarget,
    KeyStatus,
    Team,
)
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.paging import InvalidCursorError, encode_cursor
from tests.conftest import DynamoDbUnderTest
from tests.integration.test_store import NOW, new_key

SINGLE_WRITES = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


@pytest.fixture
def store(each_dynamodb: DynamoDbUnderTest) -> GatewayStore:
    return each_dynamodb.store


def write(store: GatewayStore, item: dict[str, Any]) -> None:
    """A transaction item, run as the single write it describes."""
    [(kind, request)] = item.items()
    store.table.call(SINGLE_WRITES[kind], **request)


def team(team_id: str = "chatbot", **fields: Any) -> Team:
    return Team(team_id=team_id, created_at=NOW, updated_at=NOW, **fields)


def test_key_updates_set_and_remove_only_what_changed(store: GatewayStore) -> None:
    key = new_key(requests_per_minute=10, description="old", monthly_budget_usd=Decimal(5))
    write(store, store.keys.put_new(key))
    with pytest.raises(ConditionFailedError):
        write(store, store.keys.put_new(key))
    changed = key.model_copy(
        update={
            "name": "renamed",
            "status": KeyStatus.PAUSED,
            "requests_per_minute": None,
            "allowed_cidrs": ["10.0.0.0/8"],
            "updated_at": NOW + timedelta(seconds=1),
            "version": 2,
        }
    )
    write(store, store.keys.update(key, changed))
    assert store.keys.get(key.key_id) == changed
    with pytest.raises(ConditionFailedError):
        write(store, store.keys.update(key, changed))  # stale: version 1 was read
    with pytest.raises(ValueError, match="next version"):
        store.keys.update(changed, changed)


def test_key_pages_filter_by_team_and_status(store: GatewayStore) -> None:
    keys = [
        new_key(f"k{n}", team_id="a" if n % 2 else None, created_at=NOW + timedelta(seconds=n))
        for n in range(7)
    ]
    for key in keys:
        write(store, store.keys.put_new(key))
    newest_first = [k.key_id for k in reversed(keys)]

    def walk(**filters: Any) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            page = store.keys.list_page(limit=2, cursor=cursor, **filters)
            found += [k.key_id for k in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return found

    in_team = [k.key_id for k in reversed(keys) if k.team_id == "a"]
    assert walk() == newest_first
    assert walk(team_id="a") == in_team
    assert walk(status=KeyStatus.ACTIVE, team_id="a") == in_team
    assert walk(status=KeyStatus.PAUSED) == []
    with pytest.raises(InvalidCursorError):
        store.keys.list_page(cursor=encode_cursor("chatbot"))  # a team list's cursor


def test_team_writes_and_the_live_key_count(store: GatewayStore) -> None:
    chatbot = team(allowed_models=["a"], model_aliases={"x": "a"})
    write(store, store.teams.put_new(chatbot))
    assert store.teams.get("chatbot") == chatbot
    write(store, store.teams.key_joined(chatbot))
    write(store, store.teams.key_joined(chatbot))
    assert store.teams.live_keys("chatbot") == 2
    assert store.teams.get("chatbot") == chatbot  # the count is not part of the record
    with pytest.raises(ConditionFailedError):
        write(store, store.teams.delete(chatbot))
    write(store, store.teams.key_left("chatbot"))
    write(store, store.teams.key_left("chatbot"))
    narrowed = chatbot.model_copy(
        update={"model_aliases": {}, "description": "d", "version": 2, "updated_at": NOW}
    )
    write(store, store.teams.update(chatbot, narrowed))
    with pytest.raises(ConditionFailedError):
        write(store, store.teams.key_joined(chatbot))  # checked against version 1
    with pytest.raises(ConditionFailedError):
        write(store, store.teams.delete(chatbot))  # stale version
    write(store, store.teams.delete(narrowed))
    assert store.teams.get("chatbot") is None
    with pytest.raises(ConditionFailedError):
        write(store, store.teams.key_left("chatbot"))  # never creates a stub team


def test_team_pages_in_id_order(store: GatewayStore) -> None:
    for team_id in ("research", "analytics", "chatbot"):
        write(store, store.teams.put_new(team(team_id)))
    first = store.teams.list_page(limit=2)
    assert [t.team_id for t in first.items] == ["analytics", "chatbot"]
    rest = store.teams.list_page(limit=2, cursor=first.next_cursor)
    assert ([t.team_id for t in rest.items], rest.next_cursor) == (["research"], None)
    assert [t.team_id for t in store.teams.list_all()] == ["analytics", "chatbot", "research"]


def test_admin_keys_round_trip_and_revoke(store: GatewayStore) -> None:
    minted = [mint_key(ADMIN_KEY_PREFIX) for _ in range(3)]
    admin_keys = [
        AdminKey(
            key_id=m.key_id,
            name=f"ops-{n}",
            role=AdminRole.READ_ONLY,
            secret_hash=m.secret_hash,
            display_prefix=m.display_prefix,
            created_by="bootstrap",
            created_at=NOW + timedelta(seconds=n),
            updated_at=NOW,
        )
        for n, m in enumerate(minted)
    ]
    for admin_key in admin_keys:
        write(store, store.admin_keys.put_new(admin_key))
    revoked = admin_keys[1].model_copy(update={"status": AdminKeyStatus.REVOKED, "version": 2})
    write(store, store.admin_keys.update(admin_keys[1], revoked))
    with pytest.raises(ConditionFailedError):
        write(store, store.admin_keys.update(admin_keys[1], revoked))
    assert store.admin_keys.get(admin_keys[1].key_id) == revoked
    first = store.admin_keys.list_page(limit=2)
    rest = store.admin_keys.list_page(limit=2, cursor=first.next_cursor)
    assert [k.name for k in first.items + rest.items] == ["ops-2", "ops-1", "ops-0"]
    active = store.admin_keys.list_page(status=AdminKeyStatus.ACTIVE)
    assert [k.name for k in active.items] == ["ops-2", "ops-0"]


def test_audit_entries_by_month_actor_action_and_target(store: GatewayStore) -> None:
    def entry(at: datetime, actor: str, action: AuditAction, target: str) -> AuditEntry:
        return AuditEntry.new(
            actor_id=actor,
            actor_name=actor,
            action=action,
            target_type=AuditTarget.TEAM,
            target_id=target,
            before=None,
            after={"id": target, "budget": "1.50", "nested": {"a": [1, None]}},
            source_ip="203.0.113.7",
            at=at,
        )

    entries = [
        entry(datetime(2026, 10, 31, 23, tzinfo=UTC), "alice", AuditAction.TEAM_CREATED, "a"),
        entry(datetime(2026, 11, 1, 1, tzinfo=UTC), "bob", AuditAction.TEAM_UPDATED, "a"),
        entry(datetime(2026, 11, 15, tzinfo=UTC), "alice", AuditAction.TEAM_DELETED, "b"),
    ]
    for item in entries:
        write(store, store.audit.put(item))
    october_to_november = {"first_day": date(2026, 10, 1), "last_day": date(2026, 11, 30)}
    every = store.audit.list_page(**october_to_november)
    assert every.items == list(reversed(entries))
    assert every.next_cursor is None
    by_alice = store.audit.list_page(**october_to_november, actor_id="alice", limit=1)
    assert by_alice.items == [entries[2]]
    assert by_alice.next_cursor is not None
    older = store.audit.list_page(
        **october_to_november, actor_id="alice", cursor=by_alice.next_cursor
    )
    assert older.items == [entries[0]]
    about_a = store.audit.list_page(**october_to_november, target_id="a", action="team.updated")
    assert about_a.items == [entries[1]]
    only_november = store.audit.list_page(first_day=date(2026, 11, 1), last_day=date(2026, 11, 1))
    assert only_november.items == [entries[1]]
    with pytest.raises(InvalidCursorError):
        store.audit.list_page(**october_to_november, cursor=encode_cursor("chatbot"))
