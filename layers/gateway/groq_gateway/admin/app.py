"""The admin API's ASGI app (FastAPI, for its request validation and OpenAPI document).

Every route needs an admin key: the bootstrap key from the ``AdminKeySecret`` secret, or an
admin key created through ``/openai/v1/admin-keys`` (``ggwadm_...``). A ``read_only`` admin
key may only make ``GET`` requests. Gateway keys (``ggw_...``) are never admin keys: the proxy
and the admin API accept disjoint sets of credentials.

The same routes under ``/iam/`` (``/iam/openai/v1/api-keys`` ...) take no admin key: API
Gateway checks their SigV4 signature, and the caller is the IAM principal it names
(:mod:`groq_gateway.admin.iam`).

Bodies are JSON whatever their ``Content-Type`` says, so ``curl -d '{...}'`` (which sends
``application/x-www-form-urlencoded``) works as the seed's calls expect.

Example (what ``functions/admin/app.py`` does)::

    app = create_app()
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route functions'
# annotations at definition time, and the ``Reader``/``Writer`` dependencies live in
# create_app's scope.

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from groq_gateway.admin.iam import REQUEST_CONTEXT_HEADER, IamAccess, IamRoutes, is_iam_route
from groq_gateway.admin.schemas import (
    AdminKeyList,
    AuditEntryResponse,
    AuditLogPage,
    CreateAdminKeyRequest,
    CreatedAdminKeyResponse,
    CreatedKeyResponse,
    CreateKeyRequest,
    CreateTeamRequest,
    DeletedTeamResponse,
    ErrorResponse,
    GroupBy,
    KeyList,
    RotatedKeyResponse,
    TeamList,
    UpdateKeyRequest,
    UpdateTeamRequest,
    UsageHistory,
    UsageSummary,
)
from groq_gateway.admin.service import BOOTSTRAP_PRINCIPAL, AdminService, Caller
from groq_gateway.admin.usage import UsageReports
from groq_gateway.core.audit import Actor
from groq_gateway.core.errors import GatewayError, invalid_api_key
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import AdminKeyStatus, AdminRole, AuditAction, KeyStatus
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.core.views import (
    AdminKeyResponse,
    KeyResponse,
    TeamResponse,
)
from groq_gateway.core.web import EXCEPTION_HANDLERS, client_ip, error_response
from groq_gateway.secret_rotation import KeyRotator
from groq_gateway.secrets_manager import AdminKeys
from groq_gateway.store import GatewayStore, StoreUnavailableError
from groq_gateway.store.paging import MAX_PAGE_SIZE, InvalidCursorError

OPENAPI_PATH = "/openai/v1/admin/openapi.json"
# The audit log's default window when no start is given.
DEFAULT_AUDIT_DAYS = 365

T = TypeVar("T")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid request; `param` names the field."),
    401: _error("Missing, unknown or revoked admin key; under /iam/, no IAM identity."),
    422: _error("Valid JSON that the gateway cannot apply; `param` says why."),
    503: _error("The store or the admin key secret is unavailable; nothing was changed."),
}
# On every route that changes something.
WRITE: dict[int | str, dict[str, Any]] = {
    403: _error("A read-only caller tried to change something.")
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such record.")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("Conflicts with the record's current state.")
}


class JsonBodies:
    """Treat every request body as JSON: the admin API accepts nothing else, and the seed's
    ``curl -d`` sends JSON labelled ``application/x-www-form-urlencoded``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def validation_error(request: Request, exc: Exception) -> Response:
    """A 400 in OpenAI's format naming the first offending field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return error_response(
            GatewayError(400, "The request body is not valid JSON.", code="invalid_json")
        )
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    detail = str(first.get("msg", "Invalid request.")).removeprefix("Value error, ")
    if param is None and first.get("type") == "missing":
        detail = "The request needs a JSON body."
    message = f"Invalid value for '{param}': {detail}" if param else detail
    return error_response(GatewayError(400, message, code="invalid_value", param=param))


def store_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(
        GatewayError(
            503,
            "The gateway's store is unavailable; nothing was changed.",
            type="service_unavailable",
            code="service_unavailable",
        )
    )


def invalid_cursor(request: Request, exc: Exception) -> Response:
    return error_response(
        GatewayError(
            400,
            "Invalid value for 'after': not a cursor from this list's next_cursor.",
            code="invalid_value",
            param="after",
        )
    )


def read_only_refused() -> GatewayError:
    return GatewayError(
        403,
        "This caller (admin key or IAM principal) is read-only; it may only make GET requests.",
        type="permission_error",
        code="insufficient_permissions",
    )


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


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call in a worker thread."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


def create_app(settings: Settings | None = None, *, store: GatewayStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    gateway_store = store or GatewayStore(settings.table_name)
    service = AdminService(gateway_store)
    rotator = KeyRotator(gateway_store, settings)
    reports = UsageReports(
        gateway_store, org_cap_usd=settings.org_monthly_cap_usd, billing_tz=settings.billing_tz
    )
    bootstrap = AdminKeys(settings.admin_key_secret_id)
    iam_access = IamAccess(
        full=settings.admin_iam_full_arns, read_only=settings.admin_iam_read_only_arns
    )
    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="AdminKey",
        description="The bootstrap admin key or an admin key (`ggwadm_...`).",
    )

    async def reader(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Caller:
        """The caller behind any valid admin key (or, under /iam/, the IAM principal API
        Gateway authenticated), or 401."""
        peer = request.client.host if request.client else None
        source_ip = client_ip(request.headers, peer)
        if is_iam_route(request.scope):
            return Caller(
                iam_access.principal(request.headers.get(REQUEST_CONTEXT_HEADER)), source_ip
            )
        token = credentials.credentials.strip() if credentials else ""
        if not token or token.startswith(f"{GATEWAY_KEY_PREFIX}_"):
            raise invalid_api_key()
        principal = await in_thread(service.admin_key_principal, token)
        if principal is None and await in_thread(bootstrap.is_bootstrap_key, token):
            principal = BOOTSTRAP_PRINCIPAL
        if principal is None:
            raise invalid_api_key()
        return Caller(principal, source_ip)

    Reader = Annotated[Caller, Depends(reader)]

    async def writer(caller: Reader) -> Caller:
        """The caller behind a full admin key, or 403."""
        if caller.principal.role is not AdminRole.FULL:
            raise read_only_refused()
        return caller

    Writer = Annotated[Caller, Depends(writer)]
    Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
    After = Annotated[str | None, Query(description="The `next_cursor` of the previous page.")]

    app = FastAPI(
        title="Groq Gateway admin API",
        version="1.0.0",
        description=(
            "Gateway keys, teams, admin keys, usage and the audit log of a Groq gateway. "
            "Every route needs `Authorization: Bearer <admin key>`; the same routes under "
            "`/iam` (e.g. `/iam/openai/v1/api-keys`) need a SigV4 signature instead (IAM). "
            "Errors use OpenAI's format. See docs/admin-api.md."
        ),
        openapi_url=OPENAPI_PATH,
        generate_unique_id_function=lambda route: route.name,
        docs_url=None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # --- gateway keys --------------------------------------------------------------------

    @app.post(
        "/openai/v1/api-keys",
        status_code=201,
        response_model=CreatedKeyResponse,
        responses={**WRITE, **CONFLICT},
        tags=["api-keys"],
        summary="Create a gateway key (the plaintext is in this answer only)",
    )
    async def create_key(body: CreateKeyRequest, caller: Writer) -> CreatedKeyResponse:
        key, plaintext = await in_thread(service.create_key, body, caller)
        logger.info("key created", extra={"key_id": key.key_id, "admin": caller.principal.name})
        return CreatedKeyResponse(**KeyResponse.of(key).model_dump(), key=plaintext)

    @app.get(
        "/openai/v1/api-keys",
        response_model=KeyList,
        tags=["api-keys"],
        summary="List gateway keys, newest first",
    )
    async def list_keys(
        caller: Reader,
        limit: Limit = 20,
        after: After = None,
        team: Annotated[str | None, Query(description="Only this team's keys.")] = None,
        status: Annotated[KeyStatus | None, Query(description="Only keys in this status.")] = None,
    ) -> KeyList:
        page = await in_thread(
            service.list_keys, team_id=team, status=status, limit=limit, cursor=after
        )
        return KeyList(
            data=[KeyResponse.of(key) for key in page.items],
            has_more=page.next_cursor is not None,
            next_cursor=page.next_cursor,
        )

    @app.get(
        "/openai/v1/api-keys/{key_id}",
        response_model=KeyResponse,
        responses=NOT_FOUND,
        tags=["api-keys"],
        summary="Read a gateway key (its prefix, never the key)",
    )
    async def get_key(key_id: str, caller: Reader) -> KeyResponse:
        return KeyResponse.of(await in_thread(service.get_key, key_id))

    @app.patch(
        "/openai/v1/api-keys/{key_id}",
        response_model=KeyResponse,
        responses={**WRITE, **NOT_FOUND, **CONFLICT},
        tags=["api-keys"],
        summary="Change a key's limits, allowlists, team or description; pause or resume it",
    )
    async def update_key(key_id: str, body: UpdateKeyRequest, caller: Writer) -> KeyResponse:
        key = await in_thread(service.update_key, key_id, body, caller)
        logger.info("key updated", extra={"key_id": key_id, "admin": caller.principal.name})
        return KeyResponse.of(key)

    @app.delete(
        "/openai/v1/api-keys/{key_id}",
        response_model=KeyResponse,
        responses={**WRITE, **NOT_FOUND},
        tags=["api-keys"],
        summary="Revoke a gateway key (for good; revoking twice changes nothing)",
    )
    async def revoke_key(key_id: str, caller: Writer) -> KeyResponse:
        key = await in_thread(service.revoke_key, key_id, caller)
        logger.info("key revoked", extra={"key_id": key_id, "admin": caller.principal.name})
        return KeyResponse.of(key)

    @app.post(
        "/openai/v1/api-keys/{key_id}/rotate",
        response_model=RotatedKeyResponse,
        responses={**WRITE, **NOT_FOUND, **CONFLICT},
        tags=["api-keys"],
        summary="Rotate a key's secret now (the id, limits and history stay; the old secret "
        "stays valid through its grace period)",
    )
    async def rotate_key(key_id: str, caller: Writer) -> RotatedKeyResponse:
        actor = Actor(caller.principal.actor_id, caller.principal.name, caller.source_ip)
        rotation = await in_thread(rotator.rotate, key_id, actor)
        logger.info("key rotated", extra={"key_id": key_id, "admin": caller.principal.name})
        return RotatedKeyResponse(
            **KeyResponse.of(rotation.key).model_dump(),
            key=rotation.plaintext,
            delivered_to=rotation.delivered_to,
        )

    # --- teams ---------------------------------------------------------------------------

    @app.post(
        "/openai/v1/teams",
        status_code=201,
        response_model=TeamResponse,
        responses={**WRITE, **CONFLICT},
        tags=["teams"],
        summary="Create a team",
    )
    async def create_team(body: CreateTeamRequest, caller: Writer) -> TeamResponse:
        team = await in_thread(service.create_team, body, caller)
        logger.info("team created", extra={"team": team.team_id, "admin": caller.principal.name})
        return TeamResponse.of(team)

    @app.get(
        "/openai/v1/teams", response_model=TeamList, tags=["teams"], summary="List teams by id"
    )
    async def list_teams(caller: Reader, limit: Limit = 20, after: After = None) -> TeamList:
        page = await in_thread(service.list_teams, limit=limit, cursor=after)
        return TeamList(
            data=[TeamResponse.of(team) for team in page.items],
            has_more=page.next_cursor is not None,
            next_cursor=page.next_cursor,
        )

    @app.get(
        "/openai/v1/teams/{team_id}",
        response_model=TeamResponse,
        responses=NOT_FOUND,
        tags=["teams"],
        summary="Read a team",
    )
    async def get_team(team_id: str, caller: Reader) -> TeamResponse:
        return TeamResponse.of(await in_thread(service.get_team, team_id))

    @app.patch(
        "/openai/v1/teams/{team_id}",
        response_model=TeamResponse,
        responses={**WRITE, **NOT_FOUND, **CONFLICT},
        tags=["teams"],
        summary="Change a team's models, aliases, limits or budget; pause or resume it",
    )
    async def update_team(team_id: str, body: UpdateTeamRequest, caller: Writer) -> TeamResponse:
        team = await in_thread(service.update_team, team_id, body, caller)
        logger.info("team updated", extra={"team": team_id, "admin": caller.principal.name})
        return TeamResponse.of(team)

    @app.delete(
        "/openai/v1/teams/{team_id}",
        response_model=DeletedTeamResponse,
        responses={**WRITE, **NOT_FOUND, **CONFLICT},
        tags=["teams"],
        summary="Delete a team (409 while any of its keys is not revoked)",
    )
    async def delete_team(team_id: str, caller: Writer) -> DeletedTeamResponse:
        await in_thread(service.delete_team, team_id, caller)
        logger.info("team deleted", extra={"team": team_id, "admin": caller.principal.name})
        return DeletedTeamResponse(id=team_id)

    # --- admin keys ----------------------------------------------------------------------

    @app.post(
        "/openai/v1/admin-keys",
        status_code=201,
        response_model=CreatedAdminKeyResponse,
        responses=WRITE,
        tags=["admin-keys"],
        summary="Create an admin key, read_only or full (the plaintext is in this answer only)",
    )
    async def create_admin_key(
        body: CreateAdminKeyRequest, caller: Writer
    ) -> CreatedAdminKeyResponse:
        key, plaintext = await in_thread(service.create_admin_key, body, caller)
        logger.info(
            "admin key created", extra={"admin_key_id": key.key_id, "admin": caller.principal.name}
        )
        return CreatedAdminKeyResponse(**AdminKeyResponse.of(key).model_dump(), key=plaintext)

    @app.get(
        "/openai/v1/admin-keys",
        response_model=AdminKeyList,
        tags=["admin-keys"],
        summary="List admin keys, newest first",
    )
    async def list_admin_keys(
        caller: Reader,
        limit: Limit = 20,
        after: After = None,
        status: Annotated[AdminKeyStatus | None, Query()] = None,
    ) -> AdminKeyList:
        page = await in_thread(service.list_admin_keys, status=status, limit=limit, cursor=after)
        return AdminKeyList(
            data=[AdminKeyResponse.of(key) for key in page.items],
            has_more=page.next_cursor is not None,
            next_cursor=page.next_cursor,
        )

    @app.get(
        "/openai/v1/admin-keys/{key_id}",
        response_model=AdminKeyResponse,
        responses=NOT_FOUND,
        tags=["admin-keys"],
        summary="Read an admin key",
    )
    async def get_admin_key(key_id: str, caller: Reader) -> AdminKeyResponse:
        return AdminKeyResponse.of(await in_thread(service.get_admin_key, key_id))

    @app.delete(
        "/openai/v1/admin-keys/{key_id}",
        response_model=AdminKeyResponse,
        responses={**WRITE, **NOT_FOUND},
        tags=["admin-keys"],
        summary="Revoke an admin key (it stops working at once)",
    )
    async def revoke_admin_key(key_id: str, caller: Writer) -> AdminKeyResponse:
        key = await in_thread(service.revoke_admin_key, key_id, caller)
        logger.info(
            "admin key revoked", extra={"admin_key_id": key_id, "admin": caller.principal.name}
        )
        return AdminKeyResponse.of(key)

    # --- usage and audit log -------------------------------------------------------------

    @app.get(
        "/openai/v1/usage",
        response_model=UsageSummary,
        tags=["usage"],
        summary="Today and month to date per key, team and organisation, with caps and reset",
    )
    async def usage_summary(caller: Reader) -> UsageSummary:
        return await in_thread(reports.summary)

    @app.get(
        "/openai/v1/usage/history",
        response_model=UsageHistory,
        responses=NOT_FOUND,
        tags=["usage"],
        summary="Usage in day or month buckets, grouped by key, team and model",
    )
    async def usage_history(
        caller: Reader,
        start: Annotated[date, Query(description="First UTC day (YYYY-MM-DD).")],
        end: Annotated[date | None, Query(description="Last UTC day; default today.")] = None,
        bucket: Annotated[Literal["day", "month"], Query()] = "day",
        group_by: Annotated[
            str | None, Query(description="Comma-separated: key, team, model.")
        ] = None,
        key_id: Annotated[str | None, Query(description="Only this key's usage.")] = None,
        team: Annotated[str | None, Query(description="Only this team's usage.")] = None,
        model: Annotated[str | None, Query(description="Only this model's usage.")] = None,
    ) -> UsageHistory:
        return await in_thread(
            reports.history,
            start=start,
            end=end or utcnow().date(),
            bucket=bucket,
            group_by=parse_group_by(group_by),
            key_id=key_id,
            team=team,
            model=model,
        )

    @app.get(
        "/openai/v1/audit-log",
        response_model=AuditLogPage,
        tags=["audit-log"],
        summary="Admin changes, newest first",
    )
    async def audit_log(
        caller: Reader,
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
        first_day = start or last_day - timedelta(days=DEFAULT_AUDIT_DAYS)
        page = await in_thread(
            service.audit_log,
            first_day=first_day,
            last_day=last_day,
            actor_id=actor,
            action=action,
            target_id=target,
            limit=limit,
            cursor=after,
        )
        return AuditLogPage(
            data=[AuditEntryResponse.of(entry) for entry in page.items],
            has_more=page.next_cursor is not None,
            next_cursor=page.next_cursor,
        )

    for exc_type, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    app.add_exception_handler(InvalidCursorError, invalid_cursor)
    app.add_middleware(IamRoutes)
    app.add_middleware(JsonBodies)
    return app
