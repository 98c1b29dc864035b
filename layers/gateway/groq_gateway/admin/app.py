"""The admin API's ASGI app: the resource routers behind an admin key, or under ``/iam/``
an IAM signature. See docs/admin-api.md and docs/architecture.md.

Example (what ``functions/admin/app.py`` does)::

    app = create_app()
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from groq_gateway.admin.authorization import RULES
from groq_gateway.admin.dependencies import AdminServices
from groq_gateway.admin.errors import ADMIN_EXCEPTION_HANDLERS, ERROR_RESPONSES
from groq_gateway.admin.iam import IamAccess, IamRoutes
from groq_gateway.admin.routes import (
    admin_keys,
    api_keys,
    audit_log,
    batches,
    iam_principals,
    me,
    prices,
    teams,
    usage,
)
from groq_gateway.admin.routes.console import router as console_router
from groq_gateway.admin.services.admin_keys import AdminKeyService
from groq_gateway.admin.services.api_keys import ApiKeyService
from groq_gateway.admin.services.audit_log import AuditLogService
from groq_gateway.admin.services.authentication import AuthenticationService
from groq_gateway.admin.services.batches import BatchService
from groq_gateway.admin.services.iam_principals import IamPrincipalService
from groq_gateway.admin.services.prices import PriceService
from groq_gateway.admin.services.teams import TeamService
from groq_gateway.admin.usage import UsageReports
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.secret_rotation import KeyRotator
from groq_gateway.secrets_manager import AdminKeys
from groq_gateway.store import GatewayStore

OPENAPI_PATH = "/openai/v1/admin/openapi.json"


class JsonBodies:
    """Treat every request body as JSON whatever its ``Content-Type`` says, so that
    ``curl -d '{...}'`` (sent as ``application/x-www-form-urlencoded``) works."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def build_services(settings: Settings, store: GatewayStore) -> AdminServices:
    iam_principals = IamPrincipalService(store, cache_seconds=settings.key_cache_seconds)
    return AdminServices(
        api_keys=ApiKeyService(store, billing_tz=settings.billing_tz),
        teams=TeamService(store),
        admin_keys=AdminKeyService(store),
        audit_log=AuditLogService(store),
        authentication=AuthenticationService(store, AdminKeys(settings.admin_key_secret_id)),
        iam_access=IamAccess(
            full=settings.admin_iam_full_arns,
            read_only=settings.admin_iam_read_only_arns,
            mapped=iam_principals.mapped_role,
        ),
        rotator=KeyRotator(store, settings),
        usage=UsageReports(
            store, org_cap_usd=settings.org_monthly_cap_usd, billing_tz=settings.billing_tz
        ),
        prices=PriceService(
            store,
            PriceBook.load(
                fallback=settings.unpriced_fallback_prices, policy=settings.unpriced_models
            ),
        ),
        batches=BatchService(store),
        iam_principals=iam_principals,
    )


def admin_route_names(app: FastAPI) -> list[str]:
    """The names of the admin API's routes (``/openai/v1/...``; not the OpenAPI document):
    each has its rule in ``admin/authorization.py``."""
    return [
        str(context.name)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute) and str(context.path).startswith("/openai/v1/")
    ]


def create_app(settings: Settings | None = None, *, store: GatewayStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Groq Gateway admin API",
        version="1.0.0",
        description=(
            "Gateway keys, teams, admin keys, usage, prices and the audit log of a Groq gateway. "
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
    app.state.services = build_services(settings, store or GatewayStore(settings.table_name))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for resource in (
        api_keys,
        teams,
        admin_keys,
        usage,
        audit_log,
        prices,
        batches,
        iam_principals,
        me,
    ):
        app.include_router(resource.router)
    unruled = [name for name in admin_route_names(app) if name not in RULES]
    if unruled:
        raise RuntimeError(f"admin routes without a rule in admin/authorization.py: {unruled}")
    app.include_router(console_router)  # the console's files: public, no data
    for exc_type, handler in ADMIN_EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.add_middleware(IamRoutes)
    app.add_middleware(JsonBodies)
    return app
