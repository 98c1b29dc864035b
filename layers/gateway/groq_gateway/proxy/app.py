"""The proxy's ASGI app: ``/openai/v1/...`` for apps using the openai or groq SDKs.

Before the first upstream byte a request costs: the key and team records from a short
cache, in-memory checks, and at most one conditional DynamoDB write (admission against the
per-minute limits and monthly caps; the organisation's share is held on this instance's
budget lease, :mod:`groq_gateway.core.budget_leases`, when it has one). After the response, once its
last byte is sent (:mod:`groq_gateway.proxy.after_response`): one settlement write (real
usage replaces the reservation, the metering item is added), metrics and one log line, and
now and then a budget lease given back or taken. In Lambda an internal
extension (:mod:`groq_gateway.proxy.lambda_extension`) keeps the environment running until
that work is done.

Example (what ``functions/proxy/app.py`` does)::

    app = create_app()
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import anyio
import anyio.to_thread
import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from groq_gateway.core.budget_leases import LeaseDraw, OrgBudgetLeases
from groq_gateway.core.errors import GatewayError, not_found
from groq_gateway.core.limits import (
    AdmissionPlan,
    LimitExceededError,
    LimitKind,
    Scope,
    admission_plan,
    check_fits,
)
from groq_gateway.core.money import micros_to_cents
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import minute_end, month_of, utcnow
from groq_gateway.core.pricing import PriceBook, default_price_book
from groq_gateway.core.records import EndpointGroup, GatewayKey, UsageRecord
from groq_gateway.core.settings import Settings, get_settings
from groq_gateway.core.web import EXCEPTION_HANDLERS, client_ip, error_response
from groq_gateway.proxy.after_response import AfterResponse, AfterResponseMiddleware, after_response
from groq_gateway.proxy.auth import KeyAuthenticator
from groq_gateway.proxy.endpoints import Endpoint, resolve_endpoint
from groq_gateway.proxy.inspection import (
    JsonRequest,
    audio_seconds_estimate,
    multipart_model,
)
from groq_gateway.proxy.lambda_extension import PostResponseExtension
from groq_gateway.proxy.policy import (
    Principal,
    allowed_models,
    check_endpoint,
    check_source,
    check_team,
    choose_model,
)
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.upstream import Upstream, UpstreamResult, response_headers
from groq_gateway.proxy.usage_tap import JsonTap, ObservedUsage, SseTap
from groq_gateway.secrets_manager import UpstreamKeys
from groq_gateway.store import GatewayStore, StoreUnavailableError
from groq_gateway.store.counters import Admission

# API Gateway's own payload limit; larger bodies never reach the function in AWS.
MAX_BODY_BYTES = 10 * 1024 * 1024
ALIAS_HEADER = "x-groq-gateway-model-alias"


@dataclass(frozen=True)
class Forward:
    """A checked request, ready to admit and forward."""

    body: bytes
    model: str | None
    alias_from: str | None
    stream: bool
    strip_stream_usage: bool
    prompt_tokens: int  # estimate
    completion_tokens: int  # estimate (the most the request may produce)
    audio_seconds: Decimal | None  # estimate, for audio uploads
    cost_micros: int  # worst-case cost reserved against caps

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def create_app(
    settings: Settings | None = None,
    *,
    store: GatewayStore | None = None,
    prices: PriceBook | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    extension: PostResponseExtension | None = None,
) -> Starlette:
    """The proxy app. ``extension`` defaults to the Lambda post-response extension when the
    process runs in Lambda (none elsewhere)."""
    settings = settings or get_settings()
    extension = extension or PostResponseExtension.from_environment()
    upstream_keys = UpstreamKeys(
        settings.upstream_key_secret_id, settings.upstream_key_cache_seconds
    )
    upstream_keys.prepare()  # in Lambda's init, not on the first request (SnapStart keeps it)
    proxy = Proxy(
        settings,
        store or GatewayStore(settings.table_name),
        prices or default_price_book(),
        Upstream(
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

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if extension:
            register_extension(extension)  # during Lambda's init, before the first event
        yield
        await proxy.upstream.aclose()

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(
                "/openai/v1/{path:path}",
                proxy.handle,
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


class Proxy:
    def __init__(
        self, settings: Settings, store: GatewayStore, prices: PriceBook, upstream: Upstream
    ) -> None:
        self.settings = settings
        self.store = store
        self.prices = prices
        self.upstream = upstream
        self.authenticator = KeyAuthenticator(store, cache_seconds=settings.key_cache_seconds)
        self.org_leases = OrgBudgetLeases(settings.org_lease_micros, settings.org_lease_seconds)

    async def handle(self, request: Request) -> Response:
        telemetry = RequestTelemetry(path=request.path_params["path"])
        later = after_response(request)
        try:
            return await self.check_and_forward(request, telemetry, later)
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
                raise not_found(f"Unknown request URL: {request.method} /openai/v1/{path}.")
            principal = await self.authenticator.authenticate(
                request.headers.get("authorization"), later
            )
            peer = request.client.host if request.client else None
            principal = replace(principal, source_ip=client_ip(request.headers, peer))
            telemetry.key_id, telemetry.team_id = principal.key.key_id, principal.key.team_id
            check_team(principal)
            check_endpoint(principal, endpoint)
            check_source(principal)
            forward = self.prepare(principal, endpoint, await read_body(request), request)
            telemetry.model = forward.model
            admission = await self.admit(principal, forward)
            upstream_started = time.perf_counter()
            result = await self.upstream.send(
                request.method,
                path,
                query=request.url.query,
                headers=request.headers,
                body=forward.body,
            )
        except GatewayError as error:
            if admission is not None:
                self.settle_later(later, admission, principal, forward, telemetry)
            telemetry.status = error.status
            telemetry.rejection = error.code or error.type
            telemetry.total_ms = (time.perf_counter() - telemetry.started) * 1000
            return error_response(error)
        except BaseException:
            if admission is not None:
                self.settle_later(later, admission, principal, forward, telemetry)
            raise

        telemetry.upstream_attempts = result.attempts
        telemetry.upstream_429, telemetry.upstream_5xx = result.throttled, result.server_errors
        telemetry.status = result.response.status_code
        headers = response_headers(result.response.headers) | self.limit_headers(
            principal.key, admission
        )
        if forward.alias_from:
            headers[ALIAS_HEADER] = f"{forward.alias_from}={forward.model}"
        relay = Relay(self, principal, forward, admission, result, telemetry, upstream_started)
        later.add(relay.finish)
        if path == "models" and result.response.status_code == 200:
            return await relay.model_list(headers)
        return StreamingResponse(
            relay.stream(), status_code=result.response.status_code, headers=headers
        )

    def prepare(
        self, principal: Principal, endpoint: Endpoint, body: bytes, request: Request
    ) -> Forward:
        """Check the body against the key's rights and estimate what it may cost."""
        if endpoint.group is EndpointGroup.AUDIO and not endpoint.json_model:
            model = multipart_model(body, request.headers.get("content-type", ""))
            if model is None:
                raise GatewayError(
                    400,
                    "You must provide a model parameter.",
                    code="missing_model",
                    param="model",
                )
            # Aliases rewrite JSON bodies only; an upload is forwarded with the model it names.
            choose_model(principal, model, aliases=False)
            seconds = audio_seconds_estimate(len(body))
            cost = self.prices.audio_cost(model, seconds)
            return Forward(body, model, None, False, False, 0, 0, seconds, cost.micros)
        if not endpoint.json_model:
            return Forward(body, None, None, False, False, 0, 0, None, 0)
        parsed = JsonRequest.parse(body)
        choice = choose_model(principal, parsed.model)
        if choice.alias_from:
            parsed = parsed.with_model(choice.model)
        forwarded = parsed.with_stream_usage()
        prompt = parsed.prompt_tokens_estimate
        completion = 0 if endpoint.group is EndpointGroup.AUDIO else parsed.completion_tokens_limit
        cost = self.prices.token_cost(choice.model, prompt, completion)
        return Forward(
            forwarded.body(body),
            choice.model,
            choice.alias_from,
            parsed.stream,
            parsed.stream and not parsed.client_wants_usage,
            prompt,
            completion,
            None,
            cost.micros,
        )

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
                return Admission(plan)
            return await anyio.to_thread.run_sync(self.store.counters.admit, plan)
        except LimitExceededError as refusal:
            raise limit_error(principal, refusal) from refusal
        except StoreUnavailableError as error:
            raise GatewayError(
                503,
                "The gateway cannot count this request right now; nothing was forwarded.",
                type="service_unavailable",
                code="service_unavailable",
            ) from error

    def settle_later(
        self,
        later: AfterResponse,
        admission: Admission,
        principal: Principal,
        forward: Forward,
        telemetry: RequestTelemetry,
    ) -> None:
        """Give back a reservation for a request that was admitted but never answered."""

        async def release() -> None:
            await self.settle(admission, principal, forward, None, telemetry)

        later.add(release)

    async def settle(
        self,
        admission: Admission,
        principal: Principal,
        forward: Forward,
        observed: ObservedUsage | None,
        telemetry: RequestTelemetry,
    ) -> None:
        """Replace the reservation with what the request really used (nothing, if it failed)."""
        usage = None if observed is None else self.usage_record(principal, forward, observed)
        also = []
        if principal.uses_replaced_secret and principal.secret is not None:
            also.append(
                self.store.secret_use.seen_update(
                    principal.key.key_id,
                    principal.secret.secret_hash,
                    utcnow(),
                    principal.source_ip,
                    principal.secret.retire_by,
                )
            )
        if usage is not None:
            telemetry.prompt_tokens, telemetry.completion_tokens = (
                usage.prompt_tokens,
                usage.completion_tokens,
            )
            telemetry.cost_micros, telemetry.estimated = usage.cost_micros, usage.estimated
        tokens = usage.total_tokens if usage else 0
        micros = usage.cost_micros if usage else 0
        draw = admission.org_draw
        try:
            await anyio.to_thread.run_sync(
                lambda: self.store.counters.settle(
                    admission, tokens=tokens, micros=micros, usage=usage, also=also
                )
            )
            if draw:
                self.org_leases.settled(draw, micros)
        except StoreUnavailableError as error:
            if draw:
                self.org_leases.unsettled(draw)
            # The reservation stays (the safe direction for caps); the record is logged in
            # full, without content, so it can be replayed.
            logger.error(
                "settlement failed",
                extra={
                    "error": str(error),
                    "usage": usage.model_dump(mode="json") if usage else None,
                    "key_id": principal.key.key_id,
                },
            )
            telemetry.extra["settlement_failed"] = True
        if self.org_leases.enabled:
            await self.tend_org_leases()

    async def tend_org_leases(self) -> None:
        """After a response: give back idle leases, take a new one when the current one runs
        low. A failure is logged; the next response tries again (and the poller reclaims
        what is never given back)."""
        at = utcnow()
        now = at.timestamp()
        for lease in self.org_leases.releasable(now):
            try:
                await anyio.to_thread.run_sync(self.store.org_leases.give_back, lease)
            except StoreUnavailableError as error:
                logger.warning("organisation lease not released", extra={"error": str(error)})
                continue
            self.org_leases.forget(lease)  # released, or already reclaimed by the poller
        request = self.org_leases.wanted(month_of(at, self.settings.billing_tz), now)
        cap = self.settings.org_cap_micros
        if request is None or cap is None:
            return
        self.org_leases.taking = True
        try:
            taken = await anyio.to_thread.run_sync(
                lambda: self.store.org_leases.take(
                    request, cap_micros=cap, grace_seconds=self.settings.org_lease_grace_seconds
                )
            )
        except StoreUnavailableError as error:
            logger.warning("organisation lease not taken", extra={"error": str(error)})
            self.org_leases.not_taken(now)
            return
        finally:
            self.org_leases.taking = False
        if taken:
            self.org_leases.taken(request)
        else:
            self.org_leases.refused(now)

    def usage_record(
        self, principal: Principal, forward: Forward, observed: ObservedUsage
    ) -> UsageRecord | None:
        if forward.model is None:
            return None
        if forward.audio_seconds is not None:
            seconds = observed.audio_seconds or forward.audio_seconds
            cost = self.prices.audio_cost(forward.model, seconds)
            estimated = observed.audio_seconds is None
            prompt = completion = 0
        else:
            seconds = Decimal(0)
            estimated = not observed.has_tokens
            if observed.prompt_tokens is not None and observed.completion_tokens is not None:
                prompt, completion = observed.prompt_tokens, observed.completion_tokens
            else:
                # Cut off before Groq reported usage: the prompt was read and billed, and so
                # was what was generated. Never recorded as free.
                prompt = forward.prompt_tokens
                completion = math.ceil(observed.content_chars / 4)
            cost = self.prices.token_cost(forward.model, prompt, completion)
        return UsageRecord(
            key_id=principal.key.key_id,
            team_id=principal.key.team_id,
            model=forward.model,
            at=utcnow(),
            prompt_tokens=prompt,
            completion_tokens=completion,
            audio_seconds=seconds,
            cost_micros=cost.micros,
            estimated=estimated,
            unpriced=cost.unpriced,
        )

    @staticmethod
    def limit_headers(key: GatewayKey, admission: Admission | None) -> dict[str, str]:
        """The key's own per-minute limits: limit and reset always, remaining when known."""
        if admission is None:
            return {}
        reset = go_duration((minute_end(admission.plan.at) - admission.plan.at).total_seconds())
        headers: dict[str, str] = {}
        counts = admission.counts or {}
        key_window_only = len(admission.plan.windows) == 1 and not admission.plan.reservations
        for kind, limit in (
            ("requests", key.requests_per_minute),
            ("tokens", key.tokens_per_minute),
        ):
            if limit is None:
                continue
            headers[f"x-ratelimit-limit-{kind}"] = str(limit)
            headers[f"x-ratelimit-reset-{kind}"] = reset
            window = admission.plan.windows[0] if admission.plan.windows else None
            if key_window_only and window and window.scope is Scope.KEY and kind in counts:
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, limit - counts[kind]))
        return headers


class Relay:
    """Passes one upstream response to the client and meters it when it ends."""

    def __init__(
        self,
        proxy: Proxy,
        principal: Principal,
        forward: Forward,
        admission: Admission,
        result: UpstreamResult,
        telemetry: RequestTelemetry,
        upstream_started: float,
    ) -> None:
        self.proxy = proxy
        self.principal = principal
        self.forward = forward
        self.admission = admission
        self.response = result.response
        self.telemetry = telemetry
        self.upstream_started = upstream_started
        self.succeeded = 200 <= self.response.status_code < 300
        content_type = self.response.headers.get("content-type", "")
        self.tap: SseTap | JsonTap | None = None
        if self.succeeded and "text/event-stream" in content_type:
            self.tap = SseTap(strip_usage=forward.strip_stream_usage)
        elif self.succeeded and "json" in content_type:
            self.tap = JsonTap()
        self.ended: float | None = None  # perf_counter() when the last byte was passed on

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Each upstream chunk as it arrives. Settlement is not here: :meth:`finish` runs
        after the response (the proxy puts it on the request's after-response work)."""
        try:
            async for chunk in self.response.aiter_raw():
                out = self.tap.feed(chunk) if self.tap else chunk
                if out:
                    yield out
            tail = self.tap.finish() if self.tap else b""
            if tail:
                yield tail
        finally:
            self.ended = time.perf_counter()

    async def model_list(self, headers: dict[str, str]) -> Response:
        """``GET /models``, filtered to the models the key may use."""
        try:
            payload = json.loads(await self.response.aread())
        finally:
            self.ended = time.perf_counter()
            await self.response.aclose()
        allowed = allowed_models(self.principal)
        if allowed is not None and isinstance(payload.get("data"), list):
            payload["data"] = [m for m in payload["data"] if m.get("id") in allowed]
        return JSONResponse(payload, headers=headers)

    async def finish(self) -> None:
        """After the response: close the upstream response and settle what it used."""
        ended = self.ended or time.perf_counter()  # never streamed: the client went away
        await self.response.aclose()
        self.telemetry.upstream_ms = (ended - self.upstream_started) * 1000
        self.telemetry.total_ms = (ended - self.telemetry.started) * 1000
        observed = None
        if self.succeeded:
            observed = self.tap.observed if self.tap else ObservedUsage()
        await self.proxy.settle(
            self.admission, self.principal, self.forward, observed, self.telemetry
        )


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise body_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise body_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large() -> GatewayError:
    return GatewayError(
        413,
        f"Request body is larger than the gateway's limit of {MAX_BODY_BYTES} bytes.",
        code="request_too_large",
    )


def go_duration(seconds: float) -> str:
    """A Go-style duration like Groq's reset headers: ``7.66s``, ``285ms``, ``2m59.56s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.2f}s" if minutes else f"{rest:.2f}s"


def limit_error(principal: Principal, refusal: LimitExceededError) -> GatewayError:
    """The 429 (or 413) for a refused admission, with headers that say when to retry."""
    now = utcnow()
    wait = max(0.0, (refusal.resets_at - now).total_seconds())
    who = {
        Scope.KEY: f"key `{principal.key.name}`",
        Scope.TEAM: f"team `{principal.team.team_id if principal.team else ''}`",
        Scope.ORG: "the organisation",
    }[refusal.scope]
    if refusal.kind is LimitKind.SPEND:
        return GatewayError(
            429,
            f"Monthly spending cap reached for {who}: ${micros_to_cents(refusal.limit)}. "
            f"Requests resume when the cap is raised or at {reset_text(refusal.resets_at)}.",
            type="insufficient_quota",
            code="spending_cap_reached",
            headers={"x-should-retry": "false", "retry-after": str(math.ceil(wait))},
        )
    unit = (
        "requests per minute (RPM)"
        if refusal.kind is LimitKind.REQUESTS
        else ("tokens per minute (TPM)")
    )
    if refusal.oversize:
        return GatewayError(
            413,
            f"Request too large for {who} on {unit}: Limit {refusal.limit}. Reduce the prompt "
            "or max_tokens.",
            type=refusal.kind.value,
            code="rate_limit_exceeded",
            headers={"x-should-retry": "false"},
        )
    headers = {
        "retry-after": str(max(1, math.ceil(wait))),
        f"x-ratelimit-limit-{refusal.kind.value}": str(refusal.limit),
        f"x-ratelimit-remaining-{refusal.kind.value}": str(max(0, refusal.limit - refusal.used)),
        f"x-ratelimit-reset-{refusal.kind.value}": go_duration(wait),
    }
    return GatewayError(
        429,
        f"Rate limit reached for {who} on {unit}: Limit {refusal.limit}, Used {refusal.used}. "
        f"Please try again in {wait:.3f}s.",
        type=refusal.kind.value,
        code="rate_limit_exceeded",
        headers=headers,
    )


def reset_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
