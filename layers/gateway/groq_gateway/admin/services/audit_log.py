"""The audit log: admin changes, newest first, filtered by day, actor, action and target."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import AuditAction, AuditEntry
from groq_gateway.store import GatewayStore
from groq_gateway.store.paging import Page


class AuditLogService:
    def __init__(self, store: GatewayStore) -> None:
        self.store = store

    def list_page(
        self,
        *,
        first_day: date,
        last_day: date,
        actor_id: str | None,
        action: AuditAction | None,
        target_id: str | None,
        limit: int,
        team_ids: Collection[str] | None = None,
        cursor: str | None,
    ) -> Page[AuditEntry]:
        if first_day > last_day:
            raise GatewayError(
                400, "start must not be after end.", code="invalid_value", param="start"
            )
        return self.store.audit.list_page(
            first_day=first_day,
            last_day=last_day,
            actor_id=actor_id,
            action=None if action is None else action.value,
            target_id=target_id,
            team_ids=team_ids,
            limit=limit,
            cursor=cursor,
        )
