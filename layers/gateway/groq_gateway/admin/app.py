"""The admin API's ASGI app (FastAPI, for its request validation and OpenAPI document).

Every route needs an admin key. Gateway keys (``ggw_...``) are never admin keys: the proxy
and the admin API accept disjoint sets of credentials.

Example (what ``functions/admin/app.py`` does)::

    app = create_app()
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route functions'
# annotations at definition time, and the ``Admin`` dependency lives in create_app's scope.

from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from groq_gateway.admin.schemas import CreatedKeyResponse, CreateKeyRequest, KeyResponse
from groq_gateway.errors import GatewayError, invalid_api_key
from groq_gateway.http_errors import EXCEPTION_HANDLERS, error_response
from groq_gateway.keys import GATEWAY_KEY_PREFIX, bearer_token, mint_key
from groq_gateway.models import GatewayKey, SecretVersion, utcnow
from groq_gateway.observability import logger
from groq_gateway.secrets import AdminKeys
from groq_gateway.settings import Settings, get_settings
from groq_gateway.store import GatewayStore, StoreUnavailableError


def validation_error(request: Request, exc: Exception) -> Response:
    """A 400 in OpenAI's format naming the first offending field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    param = ".".join(location) or None
    detail = first.get("msg", "Invalid request.")
    message = f"Invalid value for '{param}': {detail}" if param else str(detail)
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


def create_app(settings: Settings | None = None, *, store: GatewayStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    gateway_store = store or GatewayStore(settings.table_name)
    admin_keys = AdminKeys(settings.admin_key_secret_id)

    async def require_admin(request: Request) -> str:
        """The admin principal's name, or 401."""
        token = bearer_token(request.headers.get("authorization"))
        if token is None or token.startswith(f"{GATEWAY_KEY_PREFIX}_"):
            raise invalid_api_key()
        if await anyio.to_thread.run_sync(admin_keys.is_bootstrap_key, token):
            return "bootstrap-admin"
        raise invalid_api_key()

    Admin = Annotated[str, Depends(require_admin)]

    app = FastAPI(
        title="Groq Gateway admin API",
        version="0.1.0",
        openapi_url="/openai/v1/admin/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/openai/v1/api-keys", status_code=201, response_model=CreatedKeyResponse)
    async def create_key(body: CreateKeyRequest, admin: Admin) -> CreatedKeyResponse:
        minted = mint_key(GATEWAY_KEY_PREFIX)
        now = utcnow()
        key = GatewayKey(
            key_id=minted.key_id,
            name=body.name,
            team_id=body.team,
            description=body.description,
            allowed_models=body.allowed_models,
            requests_per_minute=body.requests_per_minute,
            tokens_per_minute=body.tokens_per_minute,
            monthly_budget_usd=body.monthly_budget_usd,
            expires_at=body.expires_at,
            created_at=now,
            updated_at=now,
            secrets=[
                SecretVersion(
                    secret_hash=minted.secret_hash,
                    display_prefix=minted.display_prefix,
                    created_at=now,
                )
            ],
        )
        await anyio.to_thread.run_sync(gateway_store.keys.create, key)
        logger.info("key created", extra={"key_id": key.key_id, "admin": admin})
        return CreatedKeyResponse(**KeyResponse.of(key).model_dump(), key=minted.plaintext)

    for exc_type, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    return app
