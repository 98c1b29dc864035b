"""What granting a team role needs: the teams must exist, and still exist when the grant is
written (a condition on each team's version in the same transaction)."""

from __future__ import annotations

from typing import Any

from groq_gateway.admin.errors import unprocessable
from groq_gateway.store import GatewayStore


def granted_teams_unchanged(store: GatewayStore, teams: list[str] | None) -> list[dict[str, Any]]:
    """The transaction items that hold while each of ``teams`` exists as read; 422 naming the
    first team that does not exist."""
    checks = []
    for team_id in teams or ():
        team = store.teams.get(team_id)
        if team is None:
            raise unprocessable(
                f"No team with id '{team_id}'; create it first.", param="teams", code="unknown_team"
            )
        checks.append(store.teams.unchanged(team))
    return checks
