"""IAM principals' mapped roles: which mapping applies to a caller, where it stands between
the template's ARN lists and the account default, and how long an instance keeps them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from groq_gateway.admin.iam import IamAccess
from groq_gateway.admin.services.iam_principals import IamPrincipalService, best_match
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import AdminRole, IamPrincipalRole

ACCOUNT = "123456789012"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ChatbotLead/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ChatbotLead"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
AT = datetime(2026, 12, 5, tzinfo=UTC)


def mapping(arn: str, role: str, teams: list[str] | None = None) -> IamPrincipalRole:
    return IamPrincipalRole(
        arn=arn, role=AdminRole(role), teams=teams, updated_at=AT, updated_by="bootstrap"
    )


def context(arn: str = SESSION) -> str:
    return json.dumps(
        {
            "accountId": ACCOUNT,
            "resourcePath": "/iam/openai/v1/teams",
            "identity": {"accountId": ACCOUNT, "userArn": arn},
        }
    )


def test_the_closest_mapping_applies_the_arn_then_its_role_then_its_account() -> None:
    mapped = {
        ROOT: mapping(ROOT, "read_only"),
        ROLE: mapping(ROLE, "team_admin", ["chatbot"]),
        SESSION: mapping(SESSION, "team_viewer", ["chatbot"]),
    }
    assert best_match(mapped, SESSION) == mapped[SESSION]
    del mapped[SESSION]
    assert best_match(mapped, SESSION) == mapped[ROLE]
    del mapped[ROLE]
    assert best_match(mapped, SESSION) == mapped[ROOT]
    assert best_match(mapped, "arn:aws:iam::210987654321:user/bob") is None


def test_the_lists_come_first_then_the_mapping_then_the_account_default() -> None:
    team_lead = mapping(ROLE, "team_admin", ["chatbot", "analytics"])
    # Both lists empty: the mapping narrows a principal of the API's own account.
    principal = IamAccess(mapped=lambda arn: team_lead).principal(context())
    assert (principal.role, principal.teams) == (
        AdminRole.TEAM_ADMIN,
        frozenset({"chatbot", "analytics"}),
    )
    assert IamAccess(mapped=lambda arn: None).principal(context()).role is AdminRole.FULL
    # A list that names the caller wins over its mapping.
    listed = IamAccess(read_only=(ROLE,), mapped=lambda arn: team_lead).principal(context())
    assert (listed.role, listed.teams) == (AdminRole.READ_ONLY, None)
    # Lists set, the caller on neither: its mapping, else refused.
    other = f"arn:aws:iam::{ACCOUNT}:role/Other"
    assert IamAccess(full=(other,), mapped=lambda arn: team_lead).principal(context()).role is (
        AdminRole.TEAM_ADMIN
    )
    with pytest.raises(GatewayError) as refused:
        IamAccess(full=(other,), mapped=lambda arn: None).principal(context())
    assert refused.value.code == "iam_principal_not_allowed"


class CountingStore:
    """Just enough of GatewayStore for the lookup: counts the reads of every mapping."""

    def __init__(self, mapped: dict[str, IamPrincipalRole]) -> None:
        self.mapped = mapped
        self.reads = 0
        self.iam_principals = self

    def all(self, *, consistent: bool = False) -> dict[str, IamPrincipalRole]:
        self.reads += 1
        return dict(self.mapped)


def test_an_instance_keeps_the_mappings_for_the_cache_time() -> None:
    store = CountingStore({ROLE: mapping(ROLE, "team_viewer", ["chatbot"])})
    clock = [100.0]
    service = IamPrincipalService(
        store,  # type: ignore[arg-type]
        cache_seconds=5.0,
        clock=lambda: clock[0],
    )
    lookup: Any = service.mapped_role
    assert lookup(SESSION).role is AdminRole.TEAM_VIEWER
    store.mapped = {}  # deleted through another instance
    clock[0] += 4.9
    assert lookup(SESSION) is not None
    assert store.reads == 1
    clock[0] += 0.1
    assert lookup(SESSION) is None
    assert store.reads == 2
