"""``/openai/v1/audit-log``: the audit log."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from groq_gateway.admin.dependencies import After, Authorized, Limit, Services, in_thread
from groq_gateway.admin.schemas import AuditEntryResponse, AuditLogPage
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import AuditAction

# The audit log's default window when no start is given, and the longest one a request may
# ask for (each month of it is one partition to query: at most 121 queries for a page).
DEFAULT_AUDIT_DAYS = 365
MAX_AUDIT_DAYS = 3660

router = APIRouter(prefix="/openai/v1/audit-log", tags=["audit-log"])


@router.get(
    "",
    response_model=AuditLogPage,
    summary="Admin changes, newest first (a team-scoped caller: those of its teams)",
)
async def audit_log(
    caller: Authorized,
    admin: Services,
    limit: Limit = 20,
    after: After = None,
    start: Annotated[
        date | None, Query(description="First UTC day; default 365 days before end.")
    ] = None,
    end: Annotated[date | None, Query(description="Last UTC day; default today.")] = None,
    actor: Annotated[str | None, Query(description="Only this admin key id's.")] = None,
    action: Annotated[AuditAction | None, Query()] = None,
    target: Annotated[str | None, Query(description="Only changes to this id.")] = None,
) -> AuditLogPage:
    last_day = end or utcnow().date()
    first_day = start or last_day - timedelta(
        days=min(DEFAULT_AUDIT_DAYS, last_day.toordinal() - 1)
    )
    if first_day > last_day:
        raise GatewayError(400, "start must not be after end.", code="invalid_value", param="start")
    if (last_day - first_day).days >= MAX_AUDIT_DAYS:
        raise GatewayError(
            400,
            f"The audit log is read at most {MAX_AUDIT_DAYS} days at a time; give a later start.",
            code="invalid_value",
            param="start",
        )
    page = await in_thread(
        admin.audit_log.list_page,
        first_day=first_day,
        last_day=last_day,
        actor_id=actor,
        action=action,
        target_id=target,
        team_ids=caller.teams,
        limit=limit,
        cursor=after,
    )
    return AuditLogPage.of_page(page, AuditEntryResponse.of)
