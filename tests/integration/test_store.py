"""The DynamoDB store against moto's server over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.records import GatewayKey, KeyStatus, SecretVersion
from groq_gateway.store import ConditionFailedError, GatewayStore, StoreUnavailableError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def new_key_with_plaintext(**changes: object) -> tuple[GatewayKey, str]:
    """A key record with one fresh secret, and that secret's plaintext key."""
    minted = mint_key(GATEWAY_KEY_PREFIX)
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "key_id": minted.key_id,
        "name": "app",
        "created_at": now,
        "updated_at": now,
        "secrets": [
            SecretVersion(
                secret_hash=minted.secret_hash,
                display_prefix=minted.display_prefix,
                created_at=now,
            )
        ],
    }
    fields.update(changes)
    return GatewayKey.model_validate(fields), minted.plaintext


def new_key(name: str = "chatbot-prod", **changes: object) -> GatewayKey:
    fields: dict[str, object] = {
        "name": name,
        "allowed_models": ["llama-3.3-70b-versatile"],
        "requests_per_minute": 500,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return new_key_with_plaintext(**fields)[0]


@pytest.fixture
def store(local_aws: dict[str, str]) -> GatewayStore:
    return GatewayStore(local_aws["GatewayTable"])


def test_a_created_key_reads_back_equal(store: GatewayStore) -> None:
    key = new_key(monthly_budget_usd="12.50", expires_at=NOW + timedelta(days=30))
    store.keys.create(key)
    assert store.keys.get(key.key_id) == key


def test_creating_the_same_id_twice_is_refused(store: GatewayStore) -> None:
    key = new_key()
    store.keys.create(key)
    with pytest.raises(ConditionFailedError):
        store.keys.create(key.model_copy(update={"name": "other"}))
    stored = store.keys.get(key.key_id)
    assert stored is not None
    assert stored.name == "chatbot-prod"


def test_unknown_key_is_none(store: GatewayStore) -> None:
    assert store.keys.get("a" * 16) is None


def test_status_change_is_conditional_on_the_version_read(store: GatewayStore) -> None:
    key = new_key()
    store.keys.create(key)
    revoked = store.keys.set_status(key, KeyStatus.REVOKED, NOW)
    assert store.keys.get(key.key_id) == revoked
    with pytest.raises(ConditionFailedError):
        store.keys.set_status(key, KeyStatus.PAUSED, NOW)  # stale version
    stored = store.keys.get(key.key_id)
    assert stored is not None
    assert stored.status is KeyStatus.REVOKED


def test_list_keys_pages_through_every_key(store: GatewayStore) -> None:
    keys = [new_key(f"key-{n}") for n in range(7)]
    for key in keys:
        store.keys.create(key)
    listed = list(store.keys.list_all(page_size=3))
    assert {k.key_id for k in listed} == {k.key_id for k in keys}


def test_the_table_holds_no_plaintext(store: GatewayStore, local_aws: dict[str, str]) -> None:
    minted = mint_key(GATEWAY_KEY_PREFIX)
    key = new_key()
    key = key.model_copy(
        update={
            "key_id": minted.key_id,
            "secrets": [
                SecretVersion(
                    secret_hash=minted.secret_hash,
                    display_prefix=minted.display_prefix,
                    created_at=NOW,
                )
            ],
        }
    )
    store.keys.create(key)
    items = store.table.client.scan(TableName=local_aws["GatewayTable"])["Items"]
    secret = minted.plaintext.rsplit("_", 1)[1]
    assert items
    assert secret not in repr(items)


def test_a_missing_table_is_store_unavailable(local_aws: dict[str, str]) -> None:
    with pytest.raises(StoreUnavailableError):
        GatewayStore("no-such-table").keys.get("a" * 16)
