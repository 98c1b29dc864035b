"""The proxy's ASGI app: routes, middleware and dependencies wired together.

Example (what ``functions/proxy/app.py`` does)::

    app = create_app()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from groq_gateway.core.observability import logger
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.core.web import EXCEPTION_HANDLERS
from groq_gateway.proxy.after_response import AfterResponseMiddleware, after_response
from groq_gateway.proxy.lambda_extension import PostResponseExtension
from groq_gateway.proxy.live_prices import LivePrices
from groq_gateway.proxy.pipeline import Pipeline
from groq_gateway.proxy.upstream import Upstream
from groq_gateway.secrets_manager import UpstreamKeys
from groq_gateway.store import GatewayStore


def create_app(
    settings: Settings | None = None,
    *,
    store: GatewayStore | None = None,
    prices: PriceBook | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    extension: PostResponseExtension | None = None,
) -> Starlette:
    """The proxy app. ``prices`` (default: the shipped prices, the deployment's overrides and
    its unpriced-model policy) get the operator's prices from the table over them.
    ``extension`` defaults to the Lambda post-response extension when the process runs in
    Lambda (none elsewhere)."""
    settings = settings or get_settings()
    extension = extension or PostResponseExtension.from_environment()
    upstream_keys = UpstreamKeys(
        settings.upstream_key_secret_id, settings.upstream_key_cache_seconds
    )
    upstream_keys.prepare()  # in Lambda's init, not on the first request (SnapStart keeps it)
    deployment_prices = prices or PriceBook.load(
        fallback=settings.unpriced_fallback_prices, policy=settings.unpriced_models
    )
    pipeline = Pipeline(
        settings=settings,
        store=store or GatewayStore.for_request_path(settings.table_name),
        prices=deployment_prices,
        upstream=Upstream(
            settings.upstream_root,
            upstream_keys,
            httpx.Timeout(
                settings.upstream_timeout_seconds,
                connect=settings.upstream_connect_timeout_seconds,
            ),
            max_retries=settings.upstream_max_retries,
            retry_budget=settings.upstream_retry_budget_seconds,
            transport=upstream_transport,
        ),
    )

    def use_prices(book: PriceBook) -> None:
        pipeline.prices = pipeline.settlement.prices = book

    live_prices = LivePrices(
        deployment_prices,
        pipeline.store,
        refresh_seconds=settings.price_refresh_seconds,
        on_change=use_prices,
    )
    live_prices.load()  # in Lambda's init (SnapStart keeps it; a restored copy is stale)

    async def handle(request: Request) -> Response:
        response = await pipeline.handle(request)
        if live_prices.stale:
            after_response(request).add(live_prices.refresh)  # never before the first byte
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if extension:
            register_extension(extension)  # during Lambda's init, before the first event
        yield
        await pipeline.upstream.aclose()

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(
                "/openai/v1/{path:path}",
                handle,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(
                AfterResponseMiddleware,
                on_start=extension.started if extension else None,
                on_done=extension.done if extension else None,
                unbracketed=frozenset({"/healthz"}),
            )
        ],
        lifespan=lifespan,
    )


def register_extension(extension: PostResponseExtension) -> None:
    """Register the post-response extension; a failure is logged, never fatal: the proxy
    serves without the hold (work after a response may then wait for the next invocation)."""
    try:
        extension.register()
    except Exception as error:  # availability first; logged
        logger.error(
            "post-response extension not registered",
            extra={"error_type": type(error).__name__, "error": str(error)},
        )
