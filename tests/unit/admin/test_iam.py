"""IAM callers of the admin API: API Gateway's request context to a principal and its role,
and the /iam/ prefix the admin app serves its routes under."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from groq_gateway.admin.iam import (
    IamAccess,
    IamRoutes,
    identity_from_context,
    is_iam_route,
    principal_matches,
)
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import AdminRole
from groq_gateway.core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
OPS_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/alice@example.com"
DASHBOARDS_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dashboards/grafana"


def context(
    arn: str | None = ALICE,
    *,
    account: str | None = ACCOUNT,
    api_account: str = ACCOUNT,
    resource_path: str = "/iam/openai/v1/api-keys/{proxy+}",
) -> str:
    """API Gateway's requestContext for a signed request, as x-amzn-request-context."""
    identity: dict[str, Any] = {"sourceIp": "203.0.113.7", "caller": "AIDAEXAMPLE"}
    if arn is not None:
        identity["userArn"] = arn
    if account is not None:
        identity["accountId"] = account
    return json.dumps(
        {
            "accountId": api_account,
            "resourcePath": resource_path,
            "httpMethod": "POST",
            "identity": identity,
        }
    )


def refused(access: IamAccess, raw_context: str | None) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        access.principal(raw_context)
    return raised.value


# --- the request context ------------------------------------------------------------------


def test_the_identity_is_the_signers_arn_and_account() -> None:
    identity = identity_from_context(context(OPS_SESSION))
    assert identity is not None
    assert (identity.arn, identity.account_id, identity.api_account_id) == (
        OPS_SESSION,
        ACCOUNT,
        ACCOUNT,
    )
    assert identity.name == "assumed-role/Ops/alice@example.com"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "null",  # what the adapter sends when there is no API Gateway event
        "[]",
        json.dumps({"resourcePath": "/iam/openai/v1/teams"}),
        context(None),  # an unsigned route: API Gateway names no user
        context(ALICE, account=None),
        context(ALICE, account=OTHER_ACCOUNT),  # the ARN's account is not the identity's
        context("alice"),
        context("arn:aws:iam::123456789012:user/*"),
        # A context from a bearer-key route never vouches for anyone.
        context(ALICE, resource_path="/openai/v1/api-keys"),
        context(ALICE, resource_path="/iamx/openai/v1/api-keys"),
    ],
)
def test_anything_but_an_iam_routes_signed_identity_is_none(raw: str | None) -> None:
    assert identity_from_context(raw) is None


# --- roles ---------------------------------------------------------------------------------


def test_by_default_every_principal_of_the_apis_account_is_full() -> None:
    access = IamAccess()
    for arn in (ALICE, OPS_SESSION, f"arn:aws:iam::{ACCOUNT}:root"):
        principal = access.principal(context(arn))
        assert (principal.actor_id, principal.role) == (arn, AdminRole.FULL)
    other = f"arn:aws:iam::{OTHER_ACCOUNT}:user/mallory"
    error = refused(access, context(other, account=OTHER_ACCOUNT))
    assert (error.status, error.code) == (403, "iam_principal_not_allowed")
    assert other in error.message


def test_allowlists_map_principals_to_read_only_or_full_and_refuse_the_rest() -> None:
    access = IamAccess(
        full=(ALICE, f"arn:aws:iam::{ACCOUNT}:role/admin/Ops"),
        read_only=(f"arn:aws:iam::{ACCOUNT}:role/Dashboards",),
    )
    assert access.principal(context(ALICE)).role is AdminRole.FULL
    # A role entry admits its sessions (the role's path is not part of a session's ARN).
    assert access.principal(context(OPS_SESSION)).role is AdminRole.FULL
    dashboards = access.principal(context(DASHBOARDS_SESSION))
    assert dashboards.role is AdminRole.READ_ONLY
    assert (dashboards.actor_id, dashboards.name) == (
        DASHBOARDS_SESSION,
        "assumed-role/Dashboards/grafana",
    )
    for stranger in (
        f"arn:aws:iam::{ACCOUNT}:user/bob",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/OpsReadOnly/alice",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Dash/grafana",
    ):
        assert refused(access, context(stranger)).code == "iam_principal_not_allowed"


def test_a_principal_on_both_lists_is_read_only() -> None:
    access = IamAccess(full=(ALICE,), read_only=(ALICE,))
    assert access.principal(context(ALICE)).role is AdminRole.READ_ONLY


def test_a_root_entry_stands_for_every_principal_of_its_account() -> None:
    access = IamAccess(read_only=(f"arn:aws:iam::{OTHER_ACCOUNT}:root",), full=(ALICE,))
    partner = f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Audit/carol"
    assert access.principal(context(partner, account=OTHER_ACCOUNT)).role is AdminRole.READ_ONLY
    assert access.principal(context(ALICE)).role is AdminRole.FULL


@pytest.mark.parametrize(
    ("entry", "arn", "matches"),
    [
        (ALICE, ALICE, True),
        (ALICE, f"arn:aws:iam::{ACCOUNT}:user/alice2", False),
        (f"arn:aws:iam::{ACCOUNT}:role/Ops", OPS_SESSION, True),
        (f"arn:aws:iam::{OTHER_ACCOUNT}:role/Ops", OPS_SESSION, False),
        (f"arn:aws-cn:iam::{ACCOUNT}:role/Ops", OPS_SESSION, False),
        (f"arn:aws:iam::{ACCOUNT}:role/Ops", f"arn:aws:iam::{ACCOUNT}:role/Ops", True),
        (f"arn:aws:iam::{ACCOUNT}:user/Ops", OPS_SESSION, False),
        (OPS_SESSION, OPS_SESSION, True),
        (OPS_SESSION, f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/bob", False),
        (f"arn:aws:iam::{ACCOUNT}:root", ALICE, True),
        (f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice", False),
    ],
)
def test_principal_matching(entry: str, arn: str, matches: bool) -> None:
    assert principal_matches(entry, arn) is matches


@pytest.mark.parametrize(
    "entry", ["*", f"arn:aws:iam::{ACCOUNT}:role/*", "alice", f"arn:aws:s3:::{ACCOUNT}"]
)
def test_allowlist_entries_must_be_principal_arns_without_wildcards(entry: str) -> None:
    with pytest.raises(ValueError, match="ADMIN_IAM_READ_ONLY_ARNS"):
        IamAccess(read_only=(entry,))


def test_without_an_identity_the_answer_is_401() -> None:
    for raw in (None, context(None), context(ALICE, resource_path="/openai/v1/teams")):
        error = refused(IamAccess(), raw)
        assert (error.status, error.code) == (401, "missing_iam_identity")


def test_the_settings_read_both_lists_from_comma_separated_variables() -> None:
    settings = Settings.from_env(
        {
            "TABLE_NAME": "t",
            "ADMIN_IAM_FULL_ARNS": f" {ALICE} , arn:aws:iam::{ACCOUNT}:role/Ops",
            "ADMIN_IAM_READ_ONLY_ARNS": "",
        }
    )
    assert settings.admin_iam_full_arns == (ALICE, f"arn:aws:iam::{ACCOUNT}:role/Ops")
    assert settings.admin_iam_read_only_arns == ()


# --- the /iam/ prefix ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_iam_prefix_serves_the_same_routes_marked_as_iam() -> None:
    async def teams(request: Request) -> JSONResponse:
        return JSONResponse({"path": request.url.path, "iam": is_iam_route(request.scope)})

    app = IamRoutes(Starlette(routes=[Route("/openai/v1/teams", teams)]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin"
    ) as client:
        iam = await client.get("/iam/openai/v1/teams")
        bearer = await client.get("/openai/v1/teams")
        elsewhere = await client.get("/iamopenai/v1/teams")
        doubled = await client.get("/iam/iam/openai/v1/teams")
    assert iam.json() == {"path": "/openai/v1/teams", "iam": True}
    assert bearer.json() == {"path": "/openai/v1/teams", "iam": False}
    assert elsewhere.status_code == doubled.status_code == 404


def test_the_sample_iam_event_names_its_caller() -> None:
    """events/admin-iam-list-keys.json (for `sam local invoke AdminFunction -e ...`) holds a
    requestContext as API Gateway sends it for an AWS_IAM route, null fields included."""
    event = json.loads((ROOT / "events" / "admin-iam-list-keys.json").read_text())
    assert (event["resource"], event["httpMethod"]) == ("/iam/openai/v1/api-keys", "GET")
    principal = IamAccess().principal(json.dumps(event["requestContext"]))
    assert principal.actor_id == event["requestContext"]["identity"]["userArn"]
    assert (principal.name, principal.role) == (
        "assumed-role/GatewayOps/alice@example.com",
        AdminRole.FULL,
    )
