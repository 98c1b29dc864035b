"""Team records: ``pk = TEAM#<team id>``, ``sk = TEAM``; listed through ``gsi1 = TEAMS``."""

from __future__ import annotations

from groq_gateway.models import Team
from groq_gateway.store.table import Table, to_item


def team_pk(team_id: str) -> str:
    return f"TEAM#{team_id}"


class TeamStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, team: Team) -> None:
        """Store a new team; :class:`ConditionFailedError` if the id is taken."""
        item = {
            "pk": team_pk(team.team_id),
            "sk": "TEAM",
            "gsi1pk": "TEAMS",
            "gsi1sk": team.team_id,
            "record_type": "team",
            **team.model_dump(mode="json"),
        }
        self.table.call(
            "put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def get(self, team_id: str) -> Team | None:
        item = self.table.get(team_pk(team_id), "TEAM")
        return Team.model_validate(item) if item else None
