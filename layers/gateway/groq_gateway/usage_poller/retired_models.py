"""The poller's retired-models step: one ``model_retired`` event per model that an allowlist
or an alias target names and Groq no longer serves. See docs/architecture.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from groq_gateway.core.events import MAX_LISTED, ModelRetiredEvent
from groq_gateway.core.observability import logger
from groq_gateway.core.records import GatewayKey, KeyStatus, Team
from groq_gateway.store import ConditionFailedError
from groq_gateway.store.notices import ModelNotice, NoticeStore


@dataclass
class _References:
    keys: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    alias_teams: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.keys) + len(self.teams) + len(self.alias_teams)


def unserved_references(
    served: Sequence[str], keys: Sequence[GatewayKey], teams: Sequence[Team]
) -> dict[str, _References]:
    """Models named by a live key's or a team's allowlist, or by a team's alias target, that
    Groq does not serve. A model a team aliases to another is not reported for that team or
    its keys: requests for it are forwarded as the alias target."""
    available = set(served)
    aliases = {team.team_id: team.model_aliases for team in teams}
    found: dict[str, _References] = {}
    for team in teams:
        for model in team.allowed_models or []:
            if model not in available and model not in team.model_aliases:
                found.setdefault(model, _References()).teams.append(team.team_id)
        for target in set(team.model_aliases.values()) - available:
            found.setdefault(target, _References()).alias_teams.append(team.team_id)
    for key in keys:
        if key.status in (KeyStatus.REVOKED, KeyStatus.EXPIRED):
            continue
        aliased = aliases.get(key.team_id or "", {})
        for model in key.allowed_models or []:
            if model not in available and model not in aliased:
                found.setdefault(model, _References()).keys.append(key.name)
    return found


def report_retired_models(
    notices: NoticeStore,
    served: Sequence[str],
    keys: Sequence[GatewayKey],
    teams: Sequence[Team],
    now: datetime,
) -> list[str]:
    """Queue one ``model_retired`` event per unserved model not reported before."""
    reported = notices.models_notified(ModelNotice.RETIRED)
    queued = []
    for model, references in sorted(unserved_references(served, keys, teams).items()):
        if model in reported:
            continue
        event = ModelRetiredEvent(
            model=model,
            keys=references.keys[:MAX_LISTED],
            teams=references.teams[:MAX_LISTED],
            alias_teams=references.alias_teams[:MAX_LISTED],
            references=references.count,
        )
        outbox = notices.outbox_put(event, now)
        try:
            notices.commit([notices.model_marker(ModelNotice.RETIRED, model, now), outbox])
        except ConditionFailedError:
            continue  # another run reported it
        logger.info("model no longer served", extra={"model": model})
        queued.append(model)
    return queued
