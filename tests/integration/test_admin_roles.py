"""Who may do what: for every admin route of the app and every role (full, read_only,
team_admin and team_viewer of team alpha), allowed or refused, through an admin key and through
an IAM principal mapped that role; and the boundaries of the team-scoped roles.

The expectations below are written out by hand (not read from admin/authorization.py): a route
added to the app without a line here fails ``test_every_admin_route_has_an_expectation``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from groq_gateway.admin.app import admin_route_names, create_app
from groq_gateway.core.settings import Settings
from groq_gateway_dev.cli.client import IamAuth
from groq_gateway_dev.devserver.iam import LOCAL_IAM
from groq_gateway_dev.devserver.local_aws import LOCAL_USER_ARN
from tests.conftest import ADMIN_KEY
from tests.integration.conftest import LocalGateway, gateway_settings

pytestmark = pytest.mark.anyio

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
SIGNED = IamAuth(Credentials(LOCAL_IAM.access_key_id, LOCAL_IAM.secret_access_key), "us-east-1")
ROLES = ("full", "read_only", "team_admin", "team_viewer")
ALL = frozenset(ROLES)
ORG = frozenset({"full", "read_only"})
FULL = frozenset({"full"})
KEY_WRITERS = frozenset({"full", "team_admin"})
OTHER_ARN = "arn:aws:iam::123456789012:role/SomeoneElse"


@dataclass(frozen=True)
class Call:
    """One request to a route (``{key}``: a fresh key of team alpha) and who may make it."""

    method: str
    path: str
    body: Any
    allowed: frozenset[str]


EXPECTED: dict[str, Call] = {
    "create_key": Call("POST", "/openai/v1/api-keys", {"name": "k", "team": "alpha"}, KEY_WRITERS),
    "list_keys": Call("GET", "/openai/v1/api-keys", None, ALL),
    "get_key": Call("GET", "/openai/v1/api-keys/{key}", None, ALL),
    "update_key": Call("PATCH", "/openai/v1/api-keys/{key}", {"description": "d"}, KEY_WRITERS),
    "rotate_key": Call("POST", "/openai/v1/api-keys/{key}/rotate", None, KEY_WRITERS),
    "revoke_key": Call("DELETE", "/openai/v1/api-keys/{key}", None, KEY_WRITERS),
    "create_team": Call("POST", "/openai/v1/teams", {"id": "new-team"}, FULL),
    "list_teams": Call("GET", "/openai/v1/teams", None, ALL),
    "get_team": Call("GET", "/openai/v1/teams/alpha", None, ALL),
    "update_team": Call("PATCH", "/openai/v1/teams/alpha", {"description": "d"}, FULL),
    "delete_team": Call("DELETE", "/openai/v1/teams/gamma", None, FULL),
    "create_admin_key": Call(
        "POST", "/openai/v1/admin-keys", {"name": "a", "role": "read_only"}, FULL
    ),
    "list_admin_keys": Call("GET", "/openai/v1/admin-keys", None, ORG),
    "get_admin_key": Call("GET", "/openai/v1/admin-keys/0123456789abcdef", None, ORG),
    "revoke_admin_key": Call("DELETE", "/openai/v1/admin-keys/0123456789abcdef", None, FULL),
    "list_iam_principals": Call("GET", "/openai/v1/admin/iam-principals", None, ORG),
    "set_iam_principal": Call(
        "PUT", f"/openai/v1/admin/iam-principals/{OTHER_ARN}", {"role": "read_only"}, FULL
    ),
    "delete_iam_principal": Call(
        "DELETE", f"/openai/v1/admin/iam-principals/{OTHER_ARN}", None, FULL
    ),
    "whoami": Call("GET", "/openai/v1/admin/me", None, ALL),
    "usage_summary": Call("GET", "/openai/v1/usage", None, ALL),
    "usage_history": Call("GET", "/openai/v1/usage/history?start=2026-11-01", None, ALL),
    "audit_log": Call("GET", "/openai/v1/audit-log", None, ALL),
    "list_prices": Call("GET", "/openai/v1/prices", None, ALL),
    "set_price": Call("PUT", "/openai/v1/prices/openai/gpt-oss-20b", {"per_audio_hour": "1"}, FULL),
    "delete_price": Call("DELETE", "/openai/v1/prices/openai/gpt-oss-20b", None, FULL),
    "list_files": Call("GET", "/openai/v1/admin/files", None, ORG),
    "list_batches": Call("GET", "/openai/v1/admin/batches", None, ORG),
}


def test_every_admin_route_has_an_expectation(gateway_settings_only: Settings) -> None:
    names = admin_route_names(create_app(gateway_settings_only))
    assert sorted(names) == sorted(EXPECTED), "a route without an expectation (or a stale one)"


@pytest.fixture
def gateway_settings_only(local_aws: dict[str, str]) -> Settings:
    return gateway_settings(local_aws)


def bearer(key: object) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def admin(
    gateway: LocalGateway, method: str, path: str, body: Any = None, **kwargs: Any
) -> httpx.Response:
    kwargs.setdefault("headers", ADMIN)
    return await gateway.client.request(method, path, json=body, **kwargs)


async def setup_teams(gateway: LocalGateway) -> None:
    """alpha (bounded), beta and gamma (no keys: the one a full admin may delete)."""
    for body in (
        {
            "id": "alpha",
            "allowed_models": ["llama-3.1-8b-instant"],
            "requests_per_minute": 100,
            "monthly_budget_usd": 10,
        },
        {"id": "beta"},
        {"id": "gamma"},
    ):
        response = await admin(gateway, "POST", "/openai/v1/teams", body)
        assert response.status_code in (201, 409), response.text


async def role_key(gateway: LocalGateway, role: str, name: str | None = None) -> str:
    body: dict[str, Any] = {"name": name or role, "role": role}
    if role.startswith("team_"):
        body["teams"] = ["alpha"]
    created = await admin(gateway, "POST", "/openai/v1/admin-keys", body)
    assert created.status_code == 201, created.text
    assert created.json()["teams"] == body.get("teams")
    return str(created.json()["key"])


async def new_key(gateway: LocalGateway, team: str | None, name: str = "app") -> str:
    key = await gateway.create_key(name=name, team=team)
    return str(key["id"])


async def check_every_route(
    gateway: LocalGateway, role: str, auth: dict[str, Any], prefix: str = ""
) -> None:
    for name, call in EXPECTED.items():
        await setup_teams(gateway)  # gamma again, after a full admin deleted it
        path = call.path.replace("{key}", await new_key(gateway, "alpha"))
        response = await admin(gateway, call.method, prefix + path, call.body, **auth)
        if role in call.allowed:
            assert response.status_code not in (401, 403), (role, name, response.text)
        else:
            assert response.status_code == 403, (role, name, response.text)
            error = response.json()["error"]
            assert error["code"] == "insufficient_permissions", (role, name, error)
            assert role in error["message"], error


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_and_role_with_an_admin_key(gateway: LocalGateway, role: str) -> None:
    await setup_teams(gateway)
    key = await role_key(gateway, role)
    await check_every_route(gateway, role, {"headers": bearer(key)})


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_and_role_with_a_mapped_iam_principal(
    gateway: LocalGateway, role: str
) -> None:
    await setup_teams(gateway)
    body: dict[str, Any] = {"role": role}
    if role.startswith("team_"):
        body["teams"] = ["alpha"]
    mapped = await admin(gateway, "PUT", f"/openai/v1/admin/iam-principals/{LOCAL_USER_ARN}", body)
    assert mapped.status_code == 200, mapped.text
    me = await gateway.client.get("/iam/openai/v1/admin/me", auth=SIGNED)
    assert me.json() == {
        "actor": LOCAL_USER_ARN,
        "name": "user/local",
        "role": role,
        "teams": body.get("teams"),
    }
    await check_every_route(gateway, role, {"auth": SIGNED, "headers": {}}, prefix="/iam")


# --- the boundaries of a team admin ---------------------------------------------------------


@pytest.fixture
async def team_admin(gateway: LocalGateway) -> dict[str, str]:
    await setup_teams(gateway)
    return bearer(await role_key(gateway, "team_admin", "alpha-lead"))


async def test_a_team_admin_cannot_reach_another_teams_key_by_id(
    gateway: LocalGateway, team_admin: dict[str, str]
) -> None:
    theirs = await new_key(gateway, "beta")
    teamless = await new_key(gateway, None)
    for key_id, missing in ((theirs, "team 'beta'"), (teamless, "belongs to no team")):
        for method, path, body in (
            ("GET", f"/openai/v1/api-keys/{key_id}", None),
            ("PATCH", f"/openai/v1/api-keys/{key_id}", {"description": "mine now"}),
            ("POST", f"/openai/v1/api-keys/{key_id}/rotate", None),
            ("DELETE", f"/openai/v1/api-keys/{key_id}", None),
            ("GET", f"/openai/v1/usage/history?start=2026-11-01&key_id={key_id}", None),
        ):
            response = await admin(gateway, method, path, body, headers=team_admin)
            assert response.status_code == 403, (method, path, response.text)
            assert missing in response.json()["error"]["message"]
    stored = gateway.store.keys.get(theirs)
    assert stored is not None
    assert (stored.status, stored.description) == ("active", "")
    other_team = await admin(gateway, "GET", "/openai/v1/api-keys?team=beta", headers=team_admin)
    assert other_team.status_code == 403
    assert "team 'beta'" in other_team.json()["error"]["message"]


async def test_a_team_admin_cannot_move_a_key_out_of_its_team(
    gateway: LocalGateway, team_admin: dict[str, str]
) -> None:
    key_id = await new_key(gateway, "alpha")
    for team, missing in (("beta", "team 'beta'"), (None, "without a team")):
        response = await admin(
            gateway, "PATCH", f"/openai/v1/api-keys/{key_id}", {"team": team}, headers=team_admin
        )
        assert response.status_code == 403, response.text
        assert missing in response.json()["error"]["message"]
    stored = gateway.store.keys.get(key_id)
    assert stored is not None
    assert stored.team_id == "alpha"


async def test_a_team_admin_cannot_raise_a_key_above_its_team(
    gateway: LocalGateway, team_admin: dict[str, str]
) -> None:
    key_id = await new_key(gateway, "alpha")
    for body, param in (
        ({"requests_per_minute": 101}, "requests_per_minute"),
        ({"allowed_models": ["openai/gpt-oss-120b"]}, "allowed_models"),
        ({"monthly_budget_usd": 11}, "monthly_budget_usd"),
    ):
        response = await admin(
            gateway, "PATCH", f"/openai/v1/api-keys/{key_id}", body, headers=team_admin
        )
        assert response.status_code == 422, response.text
        assert (response.json()["error"]["code"], response.json()["error"]["param"]) == (
            "exceeds_team",
            param,
        )
    created = await admin(
        gateway,
        "POST",
        "/openai/v1/api-keys",
        {"name": "big", "team": "alpha", "requests_per_minute": 500},
        headers=team_admin,
    )
    assert (created.status_code, created.json()["error"]["code"]) == (422, "exceeds_team")
    within = await admin(
        gateway,
        "PATCH",
        f"/openai/v1/api-keys/{key_id}",
        {"requests_per_minute": 100},
        headers=team_admin,
    )
    assert within.status_code == 200, within.text


async def test_a_team_admin_cannot_create_a_key_without_a_team(
    gateway: LocalGateway, team_admin: dict[str, str]
) -> None:
    for body, missing in (
        ({"name": "loose"}, "without a team"),
        ({"name": "loose", "team": None}, "without a team"),
        ({"name": "theirs", "team": "beta"}, "team 'beta'"),
    ):
        response = await admin(gateway, "POST", "/openai/v1/api-keys", body, headers=team_admin)
        assert response.status_code == 403, response.text
        assert missing in response.json()["error"]["message"]
    assert gateway.store.keys.list_page().items == []


async def test_a_team_role_sees_only_its_teams_and_its_actions_are_audited(
    gateway: LocalGateway, team_admin: dict[str, str]
) -> None:
    theirs = await new_key(gateway, "beta", "beta-app")
    created = await admin(
        gateway,
        "POST",
        "/openai/v1/api-keys",
        {"name": "alpha-app", "team": "alpha"},
        headers=team_admin,
    )
    assert created.status_code == 201, created.text
    mine = created.json()["id"]
    paused = await admin(
        gateway, "PATCH", f"/openai/v1/api-keys/{mine}", {"status": "paused"}, headers=team_admin
    )
    assert paused.json()["status"] == "paused"
    viewer = bearer(await role_key(gateway, "team_viewer", "alpha-viewer"))
    for who in (team_admin, viewer):
        keys = await admin(gateway, "GET", "/openai/v1/api-keys", headers=who)
        assert [k["id"] for k in keys.json()["data"]] == [mine]
        assert all("key" not in k for k in keys.json()["data"])
        teams = await admin(gateway, "GET", "/openai/v1/teams", headers=who)
        assert [t["id"] for t in teams.json()["data"]] == ["alpha"]
        usage = (await admin(gateway, "GET", "/openai/v1/usage", headers=who)).json()
        assert usage["organization"] is None
        assert [row["key_id"] for row in usage["usage_by_key"]] == [mine]
        assert [row["team"] for row in usage["usage_by_team"]] == ["alpha"]
        log = (await admin(gateway, "GET", "/openai/v1/audit-log", headers=who)).json()["data"]
        assert theirs not in {entry["target_id"] for entry in log}
        assert [(e["action"], e["target_id"], e["actor_name"]) for e in log[:2]] == [
            ("api_key.updated", mine, "alpha-lead"),
            ("api_key.created", mine, "alpha-lead"),
        ]
    everything = (await admin(gateway, "GET", "/openai/v1/usage")).json()
    assert everything["organization"] is not None
    assert {row["key_id"] for row in everything["usage_by_key"]} == {mine, theirs}


async def test_team_roles_need_existing_teams_and_org_roles_take_none(
    gateway: LocalGateway,
) -> None:
    await setup_teams(gateway)
    for body, status in (
        ({"name": "x", "role": "team_admin"}, 400),
        ({"name": "x", "role": "team_admin", "teams": []}, 400),
        ({"name": "x", "role": "full", "teams": ["alpha"]}, 400),
        ({"name": "x", "role": "team_viewer", "teams": ["nope"]}, 422),
    ):
        response = await admin(gateway, "POST", "/openai/v1/admin-keys", body)
        assert response.status_code == status, (body, response.text)
    assert gateway.store.admin_keys.list_page().items == []


async def test_iam_mappings_are_audited_applied_and_revoked(gateway: LocalGateway) -> None:
    await setup_teams(gateway)
    path = f"/openai/v1/admin/iam-principals/{LOCAL_USER_ARN}"
    # The default (both ARN lists empty): the API's own account is a full admin.
    assert (await gateway.client.get("/iam/openai/v1/admin/me", auth=SIGNED)).json()[
        "role"
    ] == "full"
    granted = await admin(gateway, "PUT", path, {"role": "team_viewer", "teams": ["alpha"]})
    assert granted.json()["updated_by"] == "bootstrap"
    listed = await admin(gateway, "GET", "/openai/v1/admin/iam-principals")
    assert [(p["arn"], p["role"], p["teams"]) for p in listed.json()["data"]] == [
        (LOCAL_USER_ARN, "team_viewer", ["alpha"])
    ]
    refused = await gateway.client.post(
        "/iam/openai/v1/api-keys", json={"name": "k", "team": "alpha"}, auth=SIGNED
    )
    assert refused.status_code == 403
    assert "team_viewer" in refused.json()["error"]["message"]
    unknown = await admin(gateway, "PUT", path, {"role": "team_admin", "teams": ["nope"]})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_team")
    bad_arn = await admin(
        gateway, "PUT", "/openai/v1/admin/iam-principals/arn:aws:iam::*:role/x", {"role": "full"}
    )
    assert bad_arn.status_code == 422
    deleted = await admin(gateway, "DELETE", path)
    assert deleted.json() == {
        "object": "iam_principal.deleted",
        "arn": LOCAL_USER_ARN,
        "deleted": True,
    }
    assert (await admin(gateway, "DELETE", path)).status_code == 404
    me = await gateway.client.get("/iam/openai/v1/admin/me", auth=SIGNED)
    assert me.json()["role"] == "full"
    log = await admin(gateway, "GET", "/openai/v1/audit-log", params={"target": LOCAL_USER_ARN})
    assert [(e["action"], e["actor_id"]) for e in log.json()["data"]] == [
        ("iam_principal.deleted", "bootstrap"),
        ("iam_principal.set", "bootstrap"),
    ]


async def test_whoami_for_a_key_of_each_kind(gateway: LocalGateway) -> None:
    await setup_teams(gateway)
    me = await admin(gateway, "GET", "/openai/v1/admin/me")
    assert me.json() == {
        "actor": "bootstrap",
        "name": "bootstrap-admin",
        "role": "full",
        "teams": None,
    }
    lead = await role_key(gateway, "team_admin", "alpha-lead")
    shown = (await admin(gateway, "GET", "/openai/v1/admin/me", headers=bearer(lead))).json()
    assert (shown["name"], shown["role"], shown["teams"]) == ("alpha-lead", "team_admin", ["alpha"])
