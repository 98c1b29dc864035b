"""What the admin routes declare as parameters: the services, the caller (authenticated, then
authorized by its route's rule in ``admin/authorization.py``, or 403) and paging."""

# No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from groq_gateway.admin.authorization import (
    check_body_team,
    check_key_team,
    check_role,
    check_team,
    rule_of,
)
from groq_gateway.admin.iam import REQUEST_CONTEXT_HEADER, IamAccess, is_iam_route
from groq_gateway.admin.principals import Caller
from groq_gateway.admin.services.admin_keys import AdminKeyService
from groq_gateway.admin.services.api_keys import ApiKeyService
from groq_gateway.admin.services.audit_log import AuditLogService
from groq_gateway.admin.services.authentication import AuthenticationService
from groq_gateway.admin.services.batches import BatchService
from groq_gateway.admin.services.iam_principals import IamPrincipalService
from groq_gateway.admin.services.prices import PriceService
from groq_gateway.admin.services.teams import TeamService
from groq_gateway.admin.usage import UsageReports
from groq_gateway.core.errors import invalid_api_key
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX
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
    iam_principals: IamPrincipalService


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


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    admin: Services,
) -> Caller:
    """The caller behind any valid admin key (or, under /iam/, the IAM principal API
    Gateway authenticated), or 401."""
    peer = request.client.host if request.client else None
    source_ip = client_ip(request.headers, peer)
    if is_iam_route(request.scope):
        context = request.headers.get(REQUEST_CONTEXT_HEADER)
        principal = await in_thread(admin.iam_access.principal, context)
        return Caller(principal, source_ip)
    token = credentials.credentials.strip() if credentials else ""
    if not token or token.startswith(f"{GATEWAY_KEY_PREFIX}_"):
        raise invalid_api_key()
    found = await in_thread(admin.authentication.principal, token)
    if found is None:
        raise invalid_api_key()
    return Caller(found, source_ip)


async def _json_body(request: Request) -> object:
    """The request's JSON body, or None when it has none or is not JSON (validation says so)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


async def authorized(
    request: Request, caller: Annotated[Caller, Depends(authenticated)], admin: Services
) -> Caller:
    """The caller, if its route's rule admits it: its role, and for a team-scoped role the
    teams and keys the request names; else 403 ``insufficient_permissions``."""
    route_name: str = request.scope["route"].name
    rule = rule_of(route_name)
    role, teams = caller.principal.role, caller.teams
    check_role(rule, role, route_name)
    if teams is None:
        return caller
    named = {**request.query_params, **request.path_params}
    for param in rule.team_params:
        if named.get(param) is not None:
            check_team(named[param], role, teams)
    for param in rule.key_params:
        if named.get(param) is not None:
            key = await in_thread(admin.api_keys.get, named[param])
            check_key_team(key.key_id, key.team_id, role, teams)
    check_body_team(rule, await _json_body(request), role, teams)
    return caller


# Every admin route takes its caller from here: authenticated, then authorized.
Authorized = Annotated[Caller, Depends(authorized)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
After = Annotated[str | None, Query(description="The `next_cursor` of the previous page.")]
