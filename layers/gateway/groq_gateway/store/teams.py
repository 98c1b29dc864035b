"""Team records (``TEAM#<team id>``) with their ``live_keys`` count, which keeps a team from
being deleted while a usable key names it. See docs/architecture.md#access-patterns.

Example::

    store.audit.commit(entry, [store.teams.delete(team)])  # refused while live_keys > 0
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from groq_gateway.core.records import TEAM_ID_PATTERN, Team
from groq_gateway.store.paging import InvalidCursorError, Page, decode_cursor, first_page
from groq_gateway.store.table import Table, to_item
from groq_gateway.store.updates import versioned_update

_TEAM_ID = re.compile(TEAM_ID_PATTERN)


def team_pk(team_id: str) -> str:
    return f"TEAM#{team_id}"


def _team_key(team_id: str) -> dict[str, Any]:
    return to_item({"pk": team_pk(team_id), "sk": "TEAM"})


def _team_item(team: Team) -> dict[str, Any]:
    return {
        "pk": team_pk(team.team_id),
        "sk": "TEAM",
        "gsi1pk": "TEAMS",
        "gsi1sk": team.team_id,
        "record_type": "team",
        **team.model_dump(mode="json"),
    }


class TeamStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, team: Team) -> None:
        """Store a new team; :class:`ConditionFailedError` if the id is taken."""
        self.table.call(
            "put_item",
            Item=to_item(_team_item(team)),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def put_new(self, team: Team) -> dict[str, Any]:
        """The ``Put`` of a transaction that stores a new team (refused if the id is taken)."""
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item(_team_item(team)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def update(self, before: Team, after: Team) -> dict[str, Any]:
        """The ``Update`` of a transaction that writes the fields in which ``after`` differs
        from ``before``, if nobody changed the team since ``before`` was read."""
        if after.team_id != before.team_id:
            raise ValueError("an update keeps the team id")
        return versioned_update(
            self.table,
            {"pk": team_pk(before.team_id), "sk": "TEAM"},
            before.model_dump(mode="json"),
            after.model_dump(mode="json"),
        )

    def delete(self, team: Team) -> dict[str, Any]:
        """The ``Delete`` of a transaction that removes the team, if it is still at the
        version read and no live key names it."""
        return {
            "Delete": {
                "TableName": self.table.name,
                "Key": _team_key(team.team_id),
                "ConditionExpression": (
                    "version = :expected AND (attribute_not_exists(live_keys) OR live_keys = :none)"
                ),
                "ExpressionAttributeValues": to_item({":expected": team.version, ":none": 0}),
            }
        }

    def key_joined(self, team: Team) -> dict[str, Any]:
        """The ``Update`` of a transaction that counts one more live key in ``team``.

        Conditional on the team's version: the key's rights were checked against ``team``, so
        the key is refused if the team changed (or was deleted) in the meantime.
        """
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": _team_key(team.team_id),
                "UpdateExpression": "ADD live_keys :one",
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": to_item({":one": 1, ":expected": team.version}),
            }
        }

    def unchanged(self, team: Team) -> dict[str, Any]:
        """The ``ConditionCheck`` of a transaction that holds only while the team is still at
        the version read (a key's new limits were checked against it)."""
        return {
            "ConditionCheck": {
                "TableName": self.table.name,
                "Key": _team_key(team.team_id),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": to_item({":expected": team.version}),
            }
        }

    def key_left(self, team_id: str) -> dict[str, Any]:
        """The ``Update`` of a transaction that counts one live key fewer in a team (a key was
        revoked or moved to another team). Refused if the team does not exist."""
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": _team_key(team_id),
                "UpdateExpression": "ADD live_keys :minus_one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": to_item({":minus_one": -1}),
            }
        }

    def get(self, team_id: str) -> Team | None:
        item = self.table.get(team_pk(team_id), "TEAM")
        return Team.model_validate(item) if item else None

    def live_keys(self, team_id: str) -> int:
        """How many keys that are not revoked name the team (0 for an unknown team)."""
        item = self.table.get(team_pk(team_id), "TEAM") or {}
        return int(item.get("live_keys", 0))

    def list_all(self) -> Iterator[Team]:
        """Every team, by id."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :listing",
            ExpressionAttributeValues=to_item({":listing": "TEAMS"}),
        )
        for item in items:
            yield Team.model_validate(item)

    def list_page(self, *, limit: int = 20, cursor: str | None = None) -> Page[Team]:
        """Teams by id. Raises :class:`InvalidCursorError` for a foreign cursor."""
        query: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :listing",
            "ExpressionAttributeValues": to_item({":listing": "TEAMS"}),
        }
        if cursor:
            after = decode_cursor(cursor)
            if not _TEAM_ID.fullmatch(after):
                raise InvalidCursorError("not a team cursor")
            start = {"pk": team_pk(after), "sk": "TEAM", "gsi1pk": "TEAMS", "gsi1sk": after}
            query["ExclusiveStartKey"] = to_item(start)
        page = first_page(self.table, [query], limit=limit, cursor_of=lambda item: item["gsi1sk"])
        return page.map(Team.model_validate)
