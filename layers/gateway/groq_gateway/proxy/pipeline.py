"""The request pipeline: authenticate, check the key's policy, admit, forward. Before the first
upstream byte: a cached key lookup, in-memory checks, at most one conditional DynamoDB write.
See docs/architecture.md#request-flow-proxy.
"""

from __future__ import annotations

import time
from dataclasses import replace

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from groq_gateway.core.budget_leases import LeaseDraw
from groq_gateway.core.errors import GatewayError, service_unavailable, unknown_url
from groq_gateway.core.limits import AdmissionPlan, LimitExceededError, admission_plan, check_fits
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.settings import Settings
from groq_gateway.core.web import client_ip, error_response
from groq_gateway.proxy.after_response import AfterResponse, after_response
from groq_gateway.proxy.auth import KeyAuthenticator
from groq_gateway.proxy.batches import OWNED_GROUPS, BatchesAndFiles
from groq_gateway.proxy.budget_leases import OrgBudgetLeases
from groq_gateway.proxy.endpoints import resolve_endpoint
from groq_gateway.proxy.forward import Forward, prepare_forward, read_body
from groq_gateway.proxy.policy import Principal, check_endpoint, check_source, check_team
from groq_gateway.proxy.rate_limits import limit_error, limit_headers
from groq_gateway.proxy.settlement import Settlement
from groq_gateway.proxy.stream_relay import Relay
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.upstream import Upstream, response_headers
from groq_gateway.store import GatewayStore, StoreUnavailableError
from groq_gateway.store.counters import Admission

ALIAS_HEADER = "x-groq-gateway-model-alias"


class Pipeline:
    """Handles ``/openai/v1/...``; what is left after the response goes on its work list."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: GatewayStore,
        prices: PriceBook,
        upstream: Upstream,
    ) -> None:
        self.settings = settings
        self.store = store
        self.prices = prices
        self.upstream = upstream
        self.authenticator = KeyAuthenticator(store, cache_seconds=settings.key_cache_seconds)
        self.org_leases = OrgBudgetLeases(settings.org_lease_micros, settings.org_lease_seconds)
        self.settlement = Settlement(
            settings=settings, store=store, prices=prices, org_leases=self.org_leases
        )
        self.batches = BatchesAndFiles(
            settings=settings,
            store=store,
            upstream=upstream,
            prices=lambda: self.prices,
            count=self.count,
        )

    async def handle(self, request: Request) -> Response:
        telemetry = RequestTelemetry(path=request.path_params["path"])
        later = after_response(request)
        try:
            return await self.check_and_forward(request, telemetry, later)
        except Exception as error:
            telemetry.failed(error)  # core/web.py answers it with a 500
            raise
        finally:
            later.add(telemetry.publish_async)  # last: after settlement filled in the usage

    async def check_and_forward(
        self, request: Request, telemetry: RequestTelemetry, later: AfterResponse
    ) -> Response:
        """Check, admit and forward one request; what is left to do goes on ``later``."""
        path = telemetry.path
        admission: Admission | None = None
        try:
            endpoint = resolve_endpoint(request.method, path)
            if endpoint is None:
                raise unknown_url(request.method, f"/openai/v1/{path}")
            principal = await self.authenticator.authenticate(
                request.headers.get("authorization"), later
            )
            peer = request.client.host if request.client else None
            principal = replace(principal, source_ip=client_ip(request.headers, peer))
            telemetry.key_id, telemetry.team_id = principal.key.key_id, principal.key.team_id
            check_team(principal)
            check_endpoint(principal, endpoint)
            check_source(principal)
            if endpoint.group in OWNED_GROUPS:  # files and batches: proxy/batches.py
                return await self.batches.handle(request, endpoint, principal, telemetry, later)
            forward = prepare_forward(
                principal,
                endpoint,
                await read_body(request),
                request.headers,
                self.prices,
                settings=self.settings,
                path=path,
            )
            telemetry.model = forward.model
            admission = await self.admit(principal, forward)
            upstream_started = time.perf_counter()
            result = await self.upstream.send(
                request.method,
                path,
                query=request.url.query,
                headers=forward.headers,
                body=forward.body,
            )
        except GatewayError as error:
            if admission is not None:
                self.settlement.release_later(later, admission, principal, forward, telemetry)
            telemetry.status = error.status
            telemetry.rejection = error.code or error.type
            telemetry.total_ms = (time.perf_counter() - telemetry.started) * 1000
            return error_response(error)
        except BaseException:
            if admission is not None:
                self.settlement.release_later(later, admission, principal, forward, telemetry)
            raise

        telemetry.upstream_attempts = result.attempts
        telemetry.upstream_429, telemetry.upstream_5xx = result.throttled, result.server_errors
        telemetry.status = result.response.status_code
        headers = response_headers(result.response.headers) | limit_headers(
            principal.key, admission
        )
        if forward.alias_from:
            headers[ALIAS_HEADER] = f"{forward.alias_from}={forward.model}"
        relay = Relay(
            settlement=self.settlement,
            principal=principal,
            forward=forward,
            admission=admission,
            response=result.response,
            telemetry=telemetry,
            upstream_started=upstream_started,
        )
        later.add(relay.finish)
        return await relay.respond(path, headers)

    async def admit(self, principal: Principal, forward: Forward) -> Admission:
        """Count the request: one conditional write (none when nothing limits the key and
        its cost is held on this instance's organisation budget lease)."""
        at = utcnow()
        org_cap = self.settings.org_cap_micros
        draw: LeaseDraw | None = None
        if org_cap and self.org_leases.enabled:
            month = month_of(at, self.settings.billing_tz)
            draw = self.org_leases.draw(month, forward.cost_micros, at.timestamp())
        plan = admission_plan(
            principal.key,
            principal.team,
            None if draw else org_cap,
            at,
            estimated_tokens=forward.tokens,
            cost_micros=forward.cost_micros,
            billing_tz=self.settings.billing_tz,
        )
        try:
            admission = await self.count(principal, plan)
        except BaseException:
            if draw:
                self.org_leases.cancel(draw)  # refused or not counted: it spent nothing
            raise
        return replace(admission, org_draw=draw)

    async def count(self, principal: Principal, plan: AdmissionPlan) -> Admission:
        """``plan``'s one conditional write (none when it counts nothing); a refusal is the
        429 (or 413) that names the limit, an unreachable DynamoDB a 503."""
        try:
            check_fits(plan)
            if plan.is_empty:
                return Admission(plan=plan)
            return await anyio.to_thread.run_sync(self.store.counters.admit, plan)
        except LimitExceededError as refusal:
            raise limit_error(principal, refusal) from refusal
        except StoreUnavailableError as error:
            raise service_unavailable(
                "The gateway cannot count this request right now; nothing was forwarded."
            ) from error
