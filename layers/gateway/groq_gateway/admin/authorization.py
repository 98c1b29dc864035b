"""Who may call which admin route: one rule per route (keyed by the FastAPI route name), in
this table only, applied to every request by ``dependencies.authorized``. See
docs/admin-api.md#roles.

A rule names the roles that may call the route and, for the team-scoped roles (``team_admin``,
``team_viewer``), how the caller's teams apply: the request parameters naming a team or a
gateway key (whose team must be one of the caller's) and the body's ``team``. Lists and
reports a team-scoped caller may read are narrowed to its teams by the route, from
``Caller.teams``.

Example::

    RULES["update_key"].roles  # frozenset({AdminRole.FULL, AdminRole.TEAM_ADMIN})
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import AdminRole

EVERY_ROLE = frozenset(AdminRole)
ORG_READERS = frozenset({AdminRole.FULL, AdminRole.READ_ONLY})
FULL_ONLY = frozenset({AdminRole.FULL})
KEY_WRITERS = frozenset({AdminRole.FULL, AdminRole.TEAM_ADMIN})


class BodyTeam(StrEnum):
    """What a team-scoped caller's request body must say of the key's ``team``."""

    IGNORED = "ignored"
    # It must name one of the caller's teams (a team-scoped admin makes no team-less key).
    REQUIRED = "required"
    # If the body names a team (moves the key), it must be one of the caller's.
    IF_GIVEN = "if_given"


@dataclass(frozen=True)
class Rule:
    """Which roles may call a route, and how a team-scoped caller's teams bound it."""

    roles: frozenset[AdminRole]
    # Path or query parameters naming a team: a team-scoped caller must hold that team.
    team_params: tuple[str, ...] = ()
    # Path or query parameters naming a gateway key: its team must be the caller's.
    key_params: tuple[str, ...] = ()
    body_team: BodyTeam = BodyTeam.IGNORED
    # What a team-scoped caller sees of a list or report: only its teams' (documentation).
    narrowed: bool = False


RULES: dict[str, Rule] = {
    # Gateway keys
    "create_key": Rule(KEY_WRITERS, body_team=BodyTeam.REQUIRED),
    "list_keys": Rule(EVERY_ROLE, team_params=("team",), narrowed=True),
    "get_key": Rule(EVERY_ROLE, key_params=("key_id",)),
    "update_key": Rule(KEY_WRITERS, key_params=("key_id",), body_team=BodyTeam.IF_GIVEN),
    "revoke_key": Rule(KEY_WRITERS, key_params=("key_id",)),
    "rotate_key": Rule(KEY_WRITERS, key_params=("key_id",)),
    # Teams: a team-scoped caller reads its own teams (their bounds), never changes them.
    "create_team": Rule(FULL_ONLY),
    "list_teams": Rule(EVERY_ROLE, narrowed=True),
    "get_team": Rule(EVERY_ROLE, team_params=("team_id",)),
    "update_team": Rule(FULL_ONLY),
    "delete_team": Rule(FULL_ONLY),
    # Admin keys and IAM principals' roles: the organisation's admins only.
    "create_admin_key": Rule(FULL_ONLY),
    "list_admin_keys": Rule(ORG_READERS),
    "get_admin_key": Rule(ORG_READERS),
    "revoke_admin_key": Rule(FULL_ONLY),
    "list_iam_principals": Rule(ORG_READERS),
    "set_iam_principal": Rule(FULL_ONLY),
    "delete_iam_principal": Rule(FULL_ONLY),
    # The caller itself.
    "whoami": Rule(EVERY_ROLE),
    # Usage and the audit log: a team-scoped caller's teams only, never the organisation's.
    "usage_summary": Rule(EVERY_ROLE, narrowed=True),
    "usage_history": Rule(EVERY_ROLE, team_params=("team",), key_params=("key_id",), narrowed=True),
    "audit_log": Rule(EVERY_ROLE, narrowed=True),
    # Prices are the same for every team: anyone may read them (costs are shown in them).
    "list_prices": Rule(EVERY_ROLE),
    "set_price": Rule(FULL_ONLY),
    "delete_price": Rule(FULL_ONLY),
    # Every key's batches and files: the organisation's admins only.
    "list_files": Rule(ORG_READERS),
    "list_batches": Rule(ORG_READERS),
}


def _names(roles: Iterable[AdminRole]) -> str:
    return " or ".join(role.value for role in AdminRole if role in set(roles))


def _teams_text(teams: Iterable[str]) -> str:
    return ", ".join(f"'{team}'" for team in sorted(teams)) or "none"


def insufficient_permissions(message: str) -> GatewayError:
    """403 in OpenAI's format: ``message`` says which role or team is missing."""
    return GatewayError(403, message, type="permission_error", code="insufficient_permissions")


def rule_of(route_name: str) -> Rule:
    """The route's rule; a route without one is refused to everyone (and fails the tests)."""
    rule = RULES.get(route_name)
    if rule is None:
        raise insufficient_permissions(
            f"The admin route '{route_name}' has no authorization rule; nobody may call it."
        )
    return rule


def check_role(rule: Rule, role: AdminRole, route_name: str) -> None:
    """403 naming the roles that may call the route, unless ``role`` is one."""
    if role not in rule.roles:
        raise insufficient_permissions(
            f"'{route_name}' needs the role {_names(rule.roles)}; this caller is {role.value}."
        )


def check_team(team_id: str, role: AdminRole, teams: frozenset[str]) -> None:
    """403 naming the missing team, unless a team-scoped caller holds ``team_id``."""
    if team_id not in teams:
        raise insufficient_permissions(
            f"This needs the role {role.value} for team '{team_id}'; this caller is "
            f"{role.value} for {_teams_text(teams)} only."
        )


def check_key_team(
    key_id: str, key_team: str | None, role: AdminRole, teams: frozenset[str]
) -> None:
    """403 unless the gateway key belongs to one of a team-scoped caller's teams."""
    if key_team is None:
        raise insufficient_permissions(
            f"API key '{key_id}' belongs to no team: only full or read_only admins reach it; "
            f"this caller is {role.value} for {_teams_text(teams)} only."
        )
    if key_team not in teams:
        raise insufficient_permissions(
            f"API key '{key_id}' belongs to team '{key_team}': this needs the role "
            f"{role.value} for team '{key_team}'; this caller is {role.value} for "
            f"{_teams_text(teams)} only."
        )


def check_body_team(rule: Rule, body: object, role: AdminRole, teams: frozenset[str]) -> None:
    """403 unless the body's ``team`` is one of a team-scoped caller's teams (where the rule
    says so). A body that is no JSON object is left to validation (400)."""
    if rule.body_team is BodyTeam.IGNORED or not isinstance(body, dict):
        return
    if "team" not in body and rule.body_team is BodyTeam.IF_GIVEN:
        return
    team = body.get("team")
    if team is None:
        action = "create" if rule.body_team is BodyTeam.REQUIRED else "leave"
        raise insufficient_permissions(
            f"A {role.value} cannot {action} a key without a team: give team one of "
            f"{_teams_text(teams)}."
        )
    if isinstance(team, str):
        check_team(team, role, teams)
