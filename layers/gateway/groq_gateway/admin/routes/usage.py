"""``/openai/v1/usage``: usage reports."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from groq_gateway.admin.dependencies import Authorized, Services, in_thread
from groq_gateway.admin.errors import NOT_FOUND
from groq_gateway.admin.schemas import GroupBy, UsageHistory, UsageSummary
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.periods import utcnow

router = APIRouter(prefix="/openai/v1/usage", tags=["usage"])


def parse_group_by(value: str | None) -> list[GroupBy]:
    """``key,model`` -> ``["key", "model"]``; 400 for anything else."""
    allowed: dict[str, GroupBy] = {"key": "key", "team": "team", "model": "model"}
    parts = [part.strip() for part in (value or "").split(",") if part.strip()]
    unknown = [part for part in parts if part not in allowed]
    if unknown:
        raise GatewayError(
            400,
            f"Invalid value for 'group_by': {', '.join(unknown)}; use key, team and model, "
            "comma-separated.",
            code="invalid_value",
            param="group_by",
        )
    return [allowed[part] for part in dict.fromkeys(parts)]


@router.get(
    "",
    response_model=UsageSummary,
    summary="Today and month to date per key, team and organisation, with caps and reset "
    "(a team-scoped caller: its teams and their keys only)",
)
async def usage_summary(caller: Authorized, admin: Services) -> UsageSummary:
    return await in_thread(admin.usage.summary, teams=caller.teams)


@router.get(
    "/history",
    response_model=UsageHistory,
    responses=NOT_FOUND,
    summary="Usage in day or month buckets, grouped by key, team and model",
)
async def usage_history(
    caller: Authorized,
    admin: Services,
    start: Annotated[date, Query(description="First UTC day (YYYY-MM-DD).")],
    end: Annotated[date | None, Query(description="Last UTC day; default today.")] = None,
    bucket: Annotated[Literal["day", "month"], Query()] = "day",
    group_by: Annotated[str | None, Query(description="Comma-separated: key, team, model.")] = None,
    key_id: Annotated[str | None, Query(description="Only this key's usage.")] = None,
    team: Annotated[str | None, Query(description="Only this team's usage.")] = None,
    model: Annotated[str | None, Query(description="Only this model's usage.")] = None,
) -> UsageHistory:
    return await in_thread(
        admin.usage.history,
        start=start,
        end=end or utcnow().date(),
        bucket=bucket,
        group_by=parse_group_by(group_by),
        key_id=key_id,
        team=team,
        model=model,
        teams=caller.teams,
    )
