"""``/openai/v1/teams``: teams."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from fastapi import APIRouter

from groq_gateway.admin.dependencies import After, Authorized, Limit, Services, in_thread
from groq_gateway.admin.errors import CONFLICT, NOT_FOUND, WRITE
from groq_gateway.admin.schemas import (
    CreateTeamRequest,
    DeletedTeamResponse,
    TeamList,
    UpdateTeamRequest,
)
from groq_gateway.core.observability import logger
from groq_gateway.core.views import TeamResponse

router = APIRouter(prefix="/openai/v1/teams", tags=["teams"])


@router.post(
    "",
    status_code=201,
    response_model=TeamResponse,
    responses={**WRITE, **CONFLICT},
    summary="Create a team",
)
async def create_team(body: CreateTeamRequest, caller: Authorized, admin: Services) -> TeamResponse:
    team = await in_thread(admin.teams.create, body, caller.actor)
    logger.info("team created", extra={"team": team.team_id, "admin": caller.principal.name})
    return TeamResponse.of(team)


@router.get(
    "", response_model=TeamList, summary="List teams by id (a team-scoped caller's own only)"
)
async def list_teams(
    caller: Authorized, admin: Services, limit: Limit = 20, after: After = None
) -> TeamList:
    page = await in_thread(admin.teams.list_page, limit=limit, cursor=after, only=caller.teams)
    return TeamList.of_page(page, TeamResponse.of)


@router.get("/{team_id}", response_model=TeamResponse, responses=NOT_FOUND, summary="Read a team")
async def get_team(team_id: str, caller: Authorized, admin: Services) -> TeamResponse:
    return TeamResponse.of(await in_thread(admin.teams.get, team_id))


@router.patch(
    "/{team_id}",
    response_model=TeamResponse,
    responses={**WRITE, **NOT_FOUND, **CONFLICT},
    summary="Change a team's models, aliases, limits or budget; pause or resume it",
)
async def update_team(
    team_id: str, body: UpdateTeamRequest, caller: Authorized, admin: Services
) -> TeamResponse:
    team = await in_thread(admin.teams.update, team_id, body, caller.actor)
    logger.info("team updated", extra={"team": team_id, "admin": caller.principal.name})
    return TeamResponse.of(team)


@router.delete(
    "/{team_id}",
    response_model=DeletedTeamResponse,
    responses={**WRITE, **NOT_FOUND, **CONFLICT},
    summary="Delete a team (409 while any of its keys is not revoked)",
)
async def delete_team(team_id: str, caller: Authorized, admin: Services) -> DeletedTeamResponse:
    await in_thread(admin.teams.delete, team_id, caller.actor)
    logger.info("team deleted", extra={"team": team_id, "admin": caller.principal.name})
    return DeletedTeamResponse(id=team_id)
