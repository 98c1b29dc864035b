"""What the admin routes declare as parameters: the services, the caller (authenticated, or
403 for a read-only caller on a write route) and paging."""

# No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from groq_gateway.admin.errors import read_only_refused
from groq_gateway.admin.iam import REQUEST_CONTEXT_HEADER, IamAccess, is_iam_route
from groq_gateway.admin.principals import Caller
from groq_gateway.admin.services.admin_keys import AdminKeyService
from groq_gateway.admin.services.api_keys import ApiKeyService
from groq_gateway.admin.services.audit_log import AuditLogService
from groq_gateway.admin.services.authentication import AuthenticationService
from groq_gateway.admin.services.batches import BatchService
from groq_gateway.admin.services.prices import PriceService
from groq_gateway.admin.services.teams import TeamService
from groq_gateway.admin.usage import UsageReports
from groq_gateway.core.errors import invalid_api_key
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX
from groq_gateway.core.records import AdminRole
from groq_gateway.core.web import client_ip
from groq_gateway.secret_rotation import KeyRotator
from groq_gateway.store.paging import MAX_PAGE_SIZE

T = TypeVar("T")


@dataclass(frozen=True)
class AdminServices:
    """Everything the routes call, built once per app (``app.state.services``)."""

    api_keys: ApiKeyService
    teams: TeamService
    admin_keys: AdminKeyService
    audit_log: AuditLogService
    authentication: AuthenticationService
    iam_access: IamAccess
    rotator: KeyRotator
    usage: UsageReports
    prices: PriceService
    batches: BatchService


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call in a worker thread."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


def services(request: Request) -> AdminServices:
    built: AdminServices = request.app.state.services
    return built


Services = Annotated[AdminServices, Depends(services)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminKey",
    description="The bootstrap admin key or an admin key (`ggwadm_...`).",
)


async def reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    admin: Services,
) -> Caller:
    """The caller behind any valid admin key (or, under /iam/, the IAM principal API
    Gateway authenticated), or 401."""
    peer = request.client.host if request.client else None
    source_ip = client_ip(request.headers, peer)
    if is_iam_route(request.scope):
        principal = admin.iam_access.principal(request.headers.get(REQUEST_CONTEXT_HEADER))
        return Caller(principal, source_ip)
    token = credentials.credentials.strip() if credentials else ""
    if not token or token.startswith(f"{GATEWAY_KEY_PREFIX}_"):
        raise invalid_api_key()
    found = await in_thread(admin.authentication.principal, token)
    if found is None:
        raise invalid_api_key()
    return Caller(found, source_ip)


Reader = Annotated[Caller, Depends(reader)]


async def writer(caller: Reader) -> Caller:
    """The caller behind a full admin key, or 403."""
    if caller.principal.role is not AdminRole.FULL:
        raise read_only_refused()
    return caller


Writer = Annotated[Caller, Depends(writer)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
After = Annotated[str | None, Query(description="The `next_cursor` of the previous page.")]
