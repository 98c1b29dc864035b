"""Teams through the admin API, and the live-key count that guards their deletion."""

from __future__ import annotations

from typing import Any

import pytest

from groq_gateway.store import ConditionFailedError
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
SEED_TEAMS = {
    "chatbot": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
    "analytics": ["llama-3.1-8b-instant"],
    "research": ["llama-3.3-70b-versatile", "mixtral-8x7b-32768", "gemma2-9b-it"],
}


async def post_team(gateway: LocalGateway, **body: Any) -> Any:
    return await gateway.client.post("/openai/v1/teams", json=body, headers=ADMIN)


async def test_create_read_list_update_delete(gateway: LocalGateway) -> None:
    for team_id, models in SEED_TEAMS.items():
        created = await post_team(gateway, id=team_id, allowed_models=models)
        assert created.status_code == 201, created.text
        assert created.json()["allowed_models"] == models
        assert created.json()["status"] == "active"

    listed = await gateway.client.get("/openai/v1/teams", params={"limit": 2}, headers=ADMIN)
    assert [t["id"] for t in listed.json()["data"]] == ["analytics", "chatbot"]
    rest = await gateway.client.get(
        "/openai/v1/teams", params={"after": listed.json()["next_cursor"]}, headers=ADMIN
    )
    assert [t["id"] for t in rest.json()["data"]] == ["research"]
    assert rest.json()["has_more"] is False

    changed = await gateway.client.patch(
        "/openai/v1/teams/research",
        json={
            "allowed_models": ["llama-3.3-70b-versatile", "openai/gpt-oss-120b"],
            "model_aliases": {"mixtral-8x7b-32768": "openai/gpt-oss-120b"},
            "requests_per_minute": 100,
            "monthly_budget_usd": 250,
            "description": "experiments",
        },
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.text
    research = changed.json()
    assert research["model_aliases"] == {"mixtral-8x7b-32768": "openai/gpt-oss-120b"}
    assert research["monthly_budget_usd"] == 250
    read = await gateway.client.get("/openai/v1/teams/research", headers=ADMIN)
    assert read.json() == research
    stored = gateway.store.teams.get("research")
    assert stored is not None
    assert stored.version == 2

    paused = await gateway.client.patch(
        "/openai/v1/teams/research", json={"status": "paused"}, headers=ADMIN
    )
    assert paused.json()["status"] == "paused"
    assert paused.json()["paused_reason"] == "paused by an administrator"

    deleted = await gateway.client.delete("/openai/v1/teams/research", headers=ADMIN)
    assert deleted.status_code == 200
    assert deleted.json() == {"object": "team.deleted", "id": "research", "deleted": True}
    gone = await gateway.client.get("/openai/v1/teams/research", headers=ADMIN)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert (
        await gateway.client.delete("/openai/v1/teams/research", headers=ADMIN)
    ).status_code == 404


async def test_a_team_id_is_taken_once(gateway: LocalGateway) -> None:
    assert (await post_team(gateway, id="chatbot")).status_code == 201
    again = await post_team(gateway, id="chatbot", description="other")
    assert again.status_code == 409
    assert again.json()["error"]["param"] == "id"
    stored = gateway.store.teams.get("chatbot")
    assert stored is not None
    assert stored.description == ""


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"id": "Chat Bot"}, 400, "id"),
        ({"id": "x", "requests_per_minute": -5}, 400, "requests_per_minute"),
        ({"id": "x", "model_aliases": {"a": "a"}}, 422, "model_aliases"),
        ({"id": "x", "allowed_models": ["a"], "model_aliases": {"b": "c"}}, 422, "model_aliases"),
        ({"id": "x", "status": "paused"}, 400, "status"),
    ],
)
async def test_invalid_teams_are_refused(
    gateway: LocalGateway, body: dict[str, Any], status: int, param: str
) -> None:
    response = await post_team(gateway, **body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert list(gateway.store.teams.list_all()) == []


async def test_a_team_with_keys_that_are_not_revoked_cannot_be_deleted(
    gateway: LocalGateway,
) -> None:
    assert (await post_team(gateway, id="chatbot")).status_code == 201
    first = await gateway.create_key(name="chatbot-prod", team="chatbot")
    second = await gateway.create_key(name="chatbot-canary", team="chatbot")
    await gateway.client.patch(
        f"/openai/v1/api-keys/{second['id']}", json={"status": "paused"}, headers=ADMIN
    )
    assert gateway.store.teams.live_keys("chatbot") == 2

    refused = await gateway.client.delete("/openai/v1/teams/chatbot", headers=ADMIN)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "team_has_keys"
    assert "2 key(s)" in error["message"]
    assert "chatbot-prod" in error["message"]

    await gateway.client.delete(f"/openai/v1/api-keys/{first['id']}", headers=ADMIN)
    assert (
        await gateway.client.delete("/openai/v1/teams/chatbot", headers=ADMIN)
    ).status_code == 409
    await gateway.client.delete(f"/openai/v1/api-keys/{second['id']}", headers=ADMIN)
    assert gateway.store.teams.live_keys("chatbot") == 0
    assert (
        await gateway.client.delete("/openai/v1/teams/chatbot", headers=ADMIN)
    ).status_code == 200


async def test_moving_a_key_moves_its_count(gateway: LocalGateway) -> None:
    for team_id in ("alpha", "beta"):
        assert (await post_team(gateway, id=team_id)).status_code == 201
    key = await gateway.create_key(name="mover", team="alpha")
    moved = await gateway.client.patch(
        f"/openai/v1/api-keys/{key['id']}", json={"team": "beta"}, headers=ADMIN
    )
    assert moved.status_code == 200
    assert (gateway.store.teams.live_keys("alpha"), gateway.store.teams.live_keys("beta")) == (0, 1)
    assert (await gateway.client.delete("/openai/v1/teams/alpha", headers=ADMIN)).status_code == 200
    unassigned = await gateway.client.patch(
        f"/openai/v1/api-keys/{key['id']}", json={"team": None}, headers=ADMIN
    )
    assert unassigned.json()["team"] is None
    assert gateway.store.teams.live_keys("beta") == 0


async def test_a_key_cannot_join_a_team_that_changed_since_it_was_checked(
    gateway: LocalGateway,
) -> None:
    """The race the live-key count closes: a key checked against a team that is then
    changed (or deleted) is refused as a whole, so no key ever points at a deleted team."""
    assert (await post_team(gateway, id="chatbot")).status_code == 201
    team = gateway.store.teams.get("chatbot")
    assert team is not None
    deleted = await gateway.client.delete("/openai/v1/teams/chatbot", headers=ADMIN)
    assert deleted.status_code == 200

    created = await gateway.create_key(name="elsewhere")
    key = gateway.store.keys.get(str(created["id"]))
    assert key is not None
    late = key.model_copy(update={"key_id": "z" * 16, "team_id": "chatbot"})
    with pytest.raises(ConditionFailedError) as refused:
        gateway.store.table.call(
            "transact_write_items",
            TransactItems=[gateway.store.keys.put_new(late), gateway.store.teams.key_joined(team)],
        )
    assert refused.value.failed_index() == 1
    assert gateway.store.keys.get("z" * 16) is None
    assert gateway.store.teams.get("chatbot") is None


async def test_a_key_limit_checked_against_a_team_that_changed_is_refused(
    gateway: LocalGateway,
) -> None:
    assert (await post_team(gateway, id="chatbot", requests_per_minute=100)).status_code == 201
    created = await gateway.create_key(name="k", team="chatbot", requests_per_minute=10)
    key, checked_against = (
        gateway.store.keys.get(str(created["id"])),
        gateway.store.teams.get("chatbot"),
    )
    assert key is not None
    assert checked_against is not None
    narrowed = await gateway.client.patch(
        "/openai/v1/teams/chatbot", json={"requests_per_minute": 20}, headers=ADMIN
    )
    assert narrowed.status_code == 200
    raised = key.model_copy(update={"requests_per_minute": 50, "version": key.version + 1})
    with pytest.raises(ConditionFailedError) as refused:
        gateway.store.table.call(
            "transact_write_items",
            TransactItems=[
                gateway.store.keys.update(key, raised),
                gateway.store.teams.unchanged(checked_against),
            ],
        )
    assert refused.value.failed_index() == 1
    assert gateway.store.keys.get(key.key_id) == key
    through_the_api = await gateway.client.patch(
        f"/openai/v1/api-keys/{key.key_id}", json={"requests_per_minute": 50}, headers=ADMIN
    )
    assert through_the_api.status_code == 422  # read again, checked against the new limit


async def test_a_team_that_gains_a_key_after_the_check_is_not_deleted(
    gateway: LocalGateway,
) -> None:
    assert (await post_team(gateway, id="chatbot")).status_code == 201
    team = gateway.store.teams.get("chatbot")
    assert team is not None
    await gateway.create_key(name="joined-meanwhile", team="chatbot")
    with pytest.raises(ConditionFailedError):
        gateway.store.table.call(
            "transact_write_items", TransactItems=[gateway.store.teams.delete(team)]
        )
    assert gateway.store.teams.get("chatbot") == team


async def test_a_noop_update_writes_nothing(gateway: LocalGateway) -> None:
    assert (await post_team(gateway, id="analytics", allowed_models=["a"])).status_code == 201
    same = await gateway.client.patch(
        "/openai/v1/teams/analytics", json={"allowed_models": ["a"]}, headers=ADMIN
    )
    assert same.status_code == 200
    stored = gateway.store.teams.get("analytics")
    assert stored is not None
    assert stored.version == 1
    nulls = await gateway.client.patch(
        "/openai/v1/teams/analytics", json={"model_aliases": None}, headers=ADMIN
    )
    assert nulls.status_code == 400
    assert nulls.json()["error"]["param"] == "model_aliases"
