"""``/openai/v1/admin/iam-principals``: the admin roles a full admin maps to IAM principals
(those the template's ARN lists do not name). See docs/admin-api.md#iam-principal-roles."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from typing import Annotated

from fastapi import APIRouter, Path

from groq_gateway.admin.dependencies import Authorized, Services, in_thread
from groq_gateway.admin.errors import NOT_FOUND, WRITE
from groq_gateway.admin.schemas import (
    DeletedIamPrincipalResponse,
    IamPrincipalList,
    IamPrincipalResponse,
    SetIamPrincipalRequest,
)
from groq_gateway.core.observability import logger

router = APIRouter(prefix="/openai/v1/admin/iam-principals", tags=["iam-principals"])

PrincipalArn = Annotated[
    str,
    Path(
        max_length=2048,
        description="A user, a role (every session of it) or an account's root, e.g. "
        "`arn:aws:iam::123456789012:role/ChatbotLead`.",
    ),
]


@router.get("", response_model=IamPrincipalList, summary="List the IAM principals' mapped roles")
async def list_iam_principals(caller: Authorized, admin: Services) -> IamPrincipalList:
    mapped = await in_thread(admin.iam_principals.list)
    return IamPrincipalList(data=[IamPrincipalResponse.of(principal) for principal in mapped])


@router.put(
    "/{arn:path}",
    response_model=IamPrincipalResponse,
    responses=WRITE,
    summary="Map a role (and, for a team role, its teams) to an IAM principal",
)
async def set_iam_principal(
    arn: PrincipalArn, body: SetIamPrincipalRequest, caller: Authorized, admin: Services
) -> IamPrincipalResponse:
    principal = await in_thread(admin.iam_principals.set, arn, body, caller.actor)
    logger.info("iam principal role set", extra={"role": body.role, "admin": caller.principal.name})
    return IamPrincipalResponse.of(principal)


@router.delete(
    "/{arn:path}",
    response_model=DeletedIamPrincipalResponse,
    responses={**WRITE, **NOT_FOUND},
    summary="Delete an IAM principal's mapped role",
)
async def delete_iam_principal(
    arn: PrincipalArn, caller: Authorized, admin: Services
) -> DeletedIamPrincipalResponse:
    await in_thread(admin.iam_principals.delete, arn, caller.actor)
    logger.info("iam principal role deleted", extra={"admin": caller.principal.name})
    return DeletedIamPrincipalResponse(arn=arn)
