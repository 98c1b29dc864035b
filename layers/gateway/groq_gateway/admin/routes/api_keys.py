"""``/openai/v1/api-keys``: gateway keys."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from typing import Annotated

from fastapi import APIRouter, Query

from groq_gateway.admin.dependencies import After, Authorized, Limit, Services, in_thread
from groq_gateway.admin.errors import CONFLICT, NOT_FOUND, WRITE, rotation_failed
from groq_gateway.admin.schemas import (
    CreatedKeyResponse,
    CreateKeyRequest,
    KeyList,
    RotatedKeyResponse,
    UpdateKeyRequest,
)
from groq_gateway.core.observability import logger
from groq_gateway.core.records import KeyStatus
from groq_gateway.core.views import KeyResponse
from groq_gateway.secret_rotation import RotationError
from groq_gateway.store.optimistic import KeptChangingError

router = APIRouter(prefix="/openai/v1/api-keys", tags=["api-keys"])


@router.post(
    "",
    status_code=201,
    response_model=CreatedKeyResponse,
    responses={**WRITE, **CONFLICT},
    summary="Create a gateway key (the plaintext is in this answer only)",
)
async def create_key(
    body: CreateKeyRequest, caller: Authorized, admin: Services
) -> CreatedKeyResponse:
    key, plaintext = await in_thread(admin.api_keys.create, body, caller.actor)
    logger.info("key created", extra={"key_id": key.key_id, "admin": caller.principal.name})
    return CreatedKeyResponse(**KeyResponse.of(key).model_dump(), key=plaintext)


@router.get(
    "",
    response_model=KeyList,
    summary="List gateway keys, newest first (a team-scoped caller's teams' only)",
)
async def list_keys(
    caller: Authorized,
    admin: Services,
    limit: Limit = 20,
    after: After = None,
    team: Annotated[str | None, Query(description="Only this team's keys.")] = None,
    status: Annotated[KeyStatus | None, Query(description="Only keys in this status.")] = None,
) -> KeyList:
    page = await in_thread(
        admin.api_keys.list_page,
        team_id=team,
        team_ids=caller.teams,
        status=status,
        limit=limit,
        cursor=after,
    )
    return KeyList.of_page(page, KeyResponse.of)


@router.get(
    "/{key_id}",
    response_model=KeyResponse,
    responses=NOT_FOUND,
    summary="Read a gateway key (its prefix, never the key)",
)
async def get_key(key_id: str, caller: Authorized, admin: Services) -> KeyResponse:
    return KeyResponse.of(await in_thread(admin.api_keys.get, key_id))


@router.patch(
    "/{key_id}",
    response_model=KeyResponse,
    responses={**WRITE, **NOT_FOUND, **CONFLICT},
    summary="Change a key's limits, allowlists, team or description; pause or resume it",
)
async def update_key(
    key_id: str, body: UpdateKeyRequest, caller: Authorized, admin: Services
) -> KeyResponse:
    key = await in_thread(admin.api_keys.update, key_id, body, caller.actor, within=caller.teams)
    logger.info("key updated", extra={"key_id": key_id, "admin": caller.principal.name})
    return KeyResponse.of(key)


@router.delete(
    "/{key_id}",
    response_model=KeyResponse,
    responses={**WRITE, **NOT_FOUND},
    summary="Revoke a gateway key (for good; revoking twice changes nothing)",
)
async def revoke_key(key_id: str, caller: Authorized, admin: Services) -> KeyResponse:
    key = await in_thread(admin.api_keys.revoke, key_id, caller.actor, within=caller.teams)
    logger.info("key revoked", extra={"key_id": key_id, "admin": caller.principal.name})
    return KeyResponse.of(key)


@router.post(
    "/{key_id}/rotate",
    response_model=RotatedKeyResponse,
    responses={**WRITE, **NOT_FOUND, **CONFLICT},
    summary="Rotate a key's secret now (the id, limits and history stay; the old secret "
    "stays valid through its grace period)",
)
async def rotate_key(key_id: str, caller: Authorized, admin: Services) -> RotatedKeyResponse:
    try:
        rotation = await in_thread(admin.rotator.rotate, key_id, caller.actor)
    except (RotationError, KeptChangingError) as error:
        raise rotation_failed(key_id, error) from error
    logger.info("key rotated", extra={"key_id": key_id, "admin": caller.principal.name})
    return RotatedKeyResponse(
        **KeyResponse.of(rotation.key).model_dump(),
        key=rotation.plaintext,
        delivered_to=rotation.delivered_to,
    )
