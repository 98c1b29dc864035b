"""``/openai/v1/admin/me``: who the caller is (any role)."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from fastapi import APIRouter

from groq_gateway.admin.dependencies import Authorized
from groq_gateway.admin.schemas import CallerResponse

router = APIRouter(prefix="/openai/v1/admin", tags=["me"])


@router.get(
    "/me",
    response_model=CallerResponse,
    summary="Who the caller is: its actor id, role and, for a team-scoped role, its teams",
)
async def whoami(caller: Authorized) -> CallerResponse:
    principal = caller.principal
    teams = None if principal.teams is None else sorted(principal.teams)
    return CallerResponse(
        actor=principal.actor_id, name=principal.name, role=principal.role, teams=teams
    )
