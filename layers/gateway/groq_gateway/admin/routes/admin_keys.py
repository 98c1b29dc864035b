"""``/openai/v1/admin-keys``: admin keys."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from typing import Annotated

from fastapi import APIRouter, Query

from groq_gateway.admin.dependencies import After, Authorized, Limit, Services, in_thread
from groq_gateway.admin.errors import NOT_FOUND, WRITE
from groq_gateway.admin.schemas import (
    AdminKeyList,
    CreateAdminKeyRequest,
    CreatedAdminKeyResponse,
)
from groq_gateway.core.observability import logger
from groq_gateway.core.records import AdminKeyStatus
from groq_gateway.core.views import AdminKeyResponse

router = APIRouter(prefix="/openai/v1/admin-keys", tags=["admin-keys"])


@router.post(
    "",
    status_code=201,
    response_model=CreatedAdminKeyResponse,
    responses=WRITE,
    summary="Create an admin key, read_only or full (the plaintext is in this answer only)",
)
async def create_admin_key(
    body: CreateAdminKeyRequest, caller: Authorized, admin: Services
) -> CreatedAdminKeyResponse:
    key, plaintext = await in_thread(admin.admin_keys.create, body, caller.actor)
    logger.info(
        "admin key created", extra={"admin_key_id": key.key_id, "admin": caller.principal.name}
    )
    return CreatedAdminKeyResponse(**AdminKeyResponse.of(key).model_dump(), key=plaintext)


@router.get("", response_model=AdminKeyList, summary="List admin keys, newest first")
async def list_admin_keys(
    caller: Authorized,
    admin: Services,
    limit: Limit = 20,
    after: After = None,
    status: Annotated[AdminKeyStatus | None, Query()] = None,
) -> AdminKeyList:
    page = await in_thread(admin.admin_keys.list_page, status=status, limit=limit, cursor=after)
    return AdminKeyList.of_page(page, AdminKeyResponse.of)


@router.get(
    "/{key_id}",
    response_model=AdminKeyResponse,
    responses=NOT_FOUND,
    summary="Read an admin key",
)
async def get_admin_key(key_id: str, caller: Authorized, admin: Services) -> AdminKeyResponse:
    return AdminKeyResponse.of(await in_thread(admin.admin_keys.get, key_id))


@router.delete(
    "/{key_id}",
    response_model=AdminKeyResponse,
    responses={**WRITE, **NOT_FOUND},
    summary="Revoke an admin key (it stops working at once)",
)
async def revoke_admin_key(key_id: str, caller: Authorized, admin: Services) -> AdminKeyResponse:
    key = await in_thread(admin.admin_keys.revoke, key_id, caller.actor)
    logger.info("admin key revoked", extra={"admin_key_id": key_id, "admin": caller.principal.name})
    return AdminKeyResponse.of(key)
