"""Teams: read, list, create, change and delete, each change audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from groq_gateway.admin.errors import unprocessable
from groq_gateway.admin.schemas import CreateTeamRequest, UpdateTeamRequest
from groq_gateway.admin.services.common import apply_pause, retry_or_conflict, validated
from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.errors import GatewayError, no_such_record
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import TEAM_ID_PATTERN, AuditAction, KeyStatus, Team
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.paging import Page

_TEAM_ID = re.compile(TEAM_ID_PATTERN)


def check_aliases(team: Team) -> None:
    """An alias must lead to another model, and to one the team allows."""
    for alias, target in team.model_aliases.items():
        if alias == target:
            raise unprocessable(f"Alias '{alias}' points to itself.", param="model_aliases")
        if team.allowed_models is not None and target not in team.allowed_models:
            raise unprocessable(
                f"Alias '{alias}' leads to '{target}', which the team's allowed_models "
                "does not include, so every request through it would be refused.",
                param="model_aliases",
            )


class TeamService:
    def __init__(self, store: GatewayStore, *, now: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = now

    def get(self, team_id: str) -> Team:
        team = self.store.teams.get(team_id) if _TEAM_ID.fullmatch(team_id) else None
        if team is None:
            raise no_such_record("team", team_id)
        return team

    def list_page(
        self, *, limit: int, cursor: str | None, only: frozenset[str] | None = None
    ) -> Page[Team]:
        """Teams by id; ``only``: just these (a team-scoped caller's, at most 20: one page)."""
        if only is None:
            return self.store.teams.list_page(limit=limit, cursor=cursor)
        found = (self.store.teams.get(team_id) for team_id in sorted(only))
        return Page([team for team in found if team is not None], None)

    def create(self, request: CreateTeamRequest, actor: Actor) -> Team:
        now = self._now()
        team = Team(
            **request.model_dump(exclude={"id"}),
            team_id=request.id,
            created_at=now,
            updated_at=now,
        )
        check_aliases(team)
        entry = audit_entry(actor, AuditAction.TEAM_CREATED, before=None, after=team, at=now)
        try:
            self.store.audit.commit(entry, [self.store.teams.put_new(team)])
        except ConditionFailedError:
            raise GatewayError(
                409, f"Team '{team.team_id}' already exists.", code="conflict", param="id"
            ) from None
        return team

    def update(self, team_id: str, request: UpdateTeamRequest, actor: Actor) -> Team:
        changes = request.changes()

        def attempt() -> Team:
            team = self.get(team_id)
            now = self._now()
            values = team.model_dump()
            fields = dict(changes)
            apply_pause(values, fields)
            values.update(fields)
            updated = validated(Team, values)
            if updated == team:
                return team  # nothing to change: no write, no audit entry
            check_aliases(updated)
            updated = updated.model_copy(update={"updated_at": now, "version": team.version + 1})
            entry = audit_entry(actor, AuditAction.TEAM_UPDATED, before=team, after=updated, at=now)
            self.store.audit.commit(entry, [self.store.teams.update(team, updated)])
            return updated

        return retry_or_conflict(attempt, "team", team_id)

    def delete(self, team_id: str, actor: Actor) -> None:
        """Delete a team no live key names (revoke its keys or move them first): 409 else."""

        def attempt() -> None:
            team = self.get(team_id)
            now = self._now()
            live_keys = self.store.teams.live_keys(team_id)
            if live_keys > 0:
                raise self._team_in_use(team_id, live_keys)
            entry = audit_entry(actor, AuditAction.TEAM_DELETED, before=team, after=None, at=now)
            # Refused if it changed, or a key joined it, since it was read: then look again.
            self.store.audit.commit(entry, [self.store.teams.delete(team)])

        retry_or_conflict(attempt, "team", team_id)

    def _team_in_use(self, team_id: str, live_keys: int) -> GatewayError:
        page = self.store.keys.list_page(team_id=team_id, limit=20)
        names = [k.name for k in page.items if k.status is not KeyStatus.REVOKED][:5]
        listed = (
            f" ({', '.join(names)}{', ...' if live_keys > len(names) else ''})" if names else ""
        )
        return GatewayError(
            409,
            f"Team '{team_id}' still has {live_keys} key(s) that are not revoked{listed}; "
            "revoke them or move them to another team first.",
            code="team_has_keys",
        )
