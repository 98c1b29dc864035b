"""Files and batches, per key: uploads read as they pass (what a batch input file asks for),
batches checked against the key's rights and their worst case reserved before Groq sees them,
every file and batch answered only to the key that owns it, and a batch's end metered once,
after the response that first shows it. See docs/architecture.md#batches-and-files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import anyio.to_thread
import httpx
from httpx import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from groq_gateway.core.batches import (
    BATCH_URL_GROUPS,
    MAX_BATCH_MODELS,
    MAX_MODEL_NAME,
    TERMINAL_BATCH_STATUSES,
    BatchInput,
    BatchOutputMeter,
    BatchRecord,
    FilePurpose,
    FileRecord,
    InvalidLine,
    ModelDemand,
)
from groq_gateway.core.errors import GatewayError, no_such_record, service_unavailable
from groq_gateway.core.limits import AdmissionPlan, batch_admission_plan
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import utcnow
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.records import EndpointGroup
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.after_response import AfterResponse
from groq_gateway.proxy.endpoints import Endpoint
from groq_gateway.proxy.forward import checked_headers, read_body, url_audio_seconds
from groq_gateway.proxy.inspection import JsonRequest, parse_json_object
from groq_gateway.proxy.multipart import parse_form
from groq_gateway.proxy.policy import Principal, check_endpoint_group, choose_model
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.upstream import Upstream, UpstreamResult, response_headers
from groq_gateway.store import ConditionFailedError, GatewayStore, StoreUnavailableError
from groq_gateway.store.counters import Admission

T = TypeVar("T")

# The endpoint groups this module answers (the pipeline hands them over once authenticated).
OWNED_GROUPS = frozenset({EndpointGroup.FILES, EndpointGroup.BATCHES})

# The longest file name recorded (the item stays small whatever the client sends).
MAX_FILENAME = 255

# Groq's list pages one request may read to find the key's own (see own_page).
MAX_LIST_PAGES = 10

# Counts a plan in one conditional write, or raises the client's 429 (the pipeline's count).
Count = Callable[[Principal, AdmissionPlan], Coroutine[Any, Any, Admission]]


def read_batch_input(content: bytes) -> BatchInput:
    """What a batch input file asks for: per model, its lines' prompt estimate and output
    limits (as a request's are estimated), the endpoints named, and the first line the
    gateway cannot check (a batch of this file is then refused)."""
    models: dict[str, ModelDemand] = {}
    urls: set[str] = set()
    lines = audio_lines = 0
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        lines += 1
        try:
            url, model, demand = _read_line(raw)
        except ValueError as problem:
            return BatchInput(lines=lines, invalid=InvalidLine(number=number, reason=str(problem)))
        urls.add(url)
        audio_lines += BATCH_URL_GROUPS[url] is EndpointGroup.AUDIO
        models[model] = models.get(model, ModelDemand()) + demand
        if len(models) > MAX_BATCH_MODELS:
            reason = f"the file names more than {MAX_BATCH_MODELS} models"
            return BatchInput(lines=lines, invalid=InvalidLine(number=number, reason=reason))
    return BatchInput(lines=lines, urls=sorted(urls), models=models, audio_lines=audio_lines)


def _read_line(raw: bytes) -> tuple[str, str, ModelDemand]:
    try:
        # As a request body is read: a key named twice in one object is refused, since
        # parsers disagree on which one counts (Groq could run another model than checked).
        item: Any = parse_json_object(raw)
    except GatewayError as error:
        raise ValueError(f"it cannot be read: {error.message}") from None
    url = item.get("url")
    if url not in BATCH_URL_GROUPS:
        raise ValueError(f"its `url` must be one of {', '.join(sorted(BATCH_URL_GROUPS))}")
    body = item.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or not model or len(model) > MAX_MODEL_NAME:
        raise ValueError("it has no `body` object with a `model`")
    if BATCH_URL_GROUPS[url] is EndpointGroup.AUDIO:
        return url, model, ModelDemand(lines=1)
    try:
        request = JsonRequest.parse(json.dumps(body).encode())
        completion = request.completion_tokens_limit
    except GatewayError as error:
        raise ValueError(f"its body is refused: {error.message}") from None
    if not request.names_output_limit:
        # A line is forwarded as written: without a limit Groq could produce more than any
        # default the gateway reserved, so the batch's worst case would not bound its cost.
        raise ValueError(
            "it names no output limit: set `max_completion_tokens` (or `max_tokens`) on every "
            "line, which the gateway reserves against limits and caps"
        )
    return (
        url,
        model,
        ModelDemand(
            lines=1, prompt_tokens=request.prompt_tokens_estimate, completion_tokens=completion
        ),
    )


def invalid_batch_file(file_id: str, reason: str) -> GatewayError:
    return GatewayError(
        400,
        f"The input file `{file_id}` cannot be run as a batch: {reason}.",
        code="invalid_batch_file",
        param="input_file_id",
    )


def _json(raw: bytes) -> dict[str, Any] | None:
    """A JSON object, or ``None`` for anything else (not JSON, too deep, too long a number)."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(kw_only=True)
class BatchesAndFiles:
    """``/files`` and ``/batches`` for one key at a time (the pipeline authenticated it and
    checked its endpoint group and source)."""

    settings: Settings
    store: GatewayStore
    upstream: Upstream
    prices: Callable[[], PriceBook]
    count: Count

    async def handle(
        self,
        request: Request,
        endpoint: Endpoint,
        principal: Principal,
        telemetry: RequestTelemetry,
        later: AfterResponse,
    ) -> Response:
        """One request; refusals raise :class:`GatewayError` before anything reaches Groq."""
        parts = telemetry.path.split("/")
        resource, item_id, action = parts[0], "/".join(parts[1:2]), "/".join(parts[2:])
        method = request.method
        if resource == "files":
            if method == "POST":
                return await self.upload(request, principal, telemetry)
            if not item_id:
                return await self.list_files(request, principal, telemetry)
            if action not in ("", "content"):
                raise no_such_record("file", "/".join(parts[1:]))
            await self.owned_file(principal, item_id)
            response = await self.relay(request, telemetry)
            if method == "DELETE" and 200 <= response.status_code < 300:
                key_id = principal.key.key_id
                later.add(lambda: self.forget_file(key_id, item_id))
            return response
        if method == "POST" and not item_id:
            return await self.create_batch(request, principal, telemetry, later)
        if not item_id:
            return await self.list_batches(request, principal, telemetry, later)
        if action not in ("", "cancel"):
            raise no_such_record("batch", "/".join(parts[1:]))
        record = await self.owned_batch(principal, item_id)
        return await self.show_batch(request, record, telemetry, later)

    # -- files ---------------------------------------------------------------------------

    async def owned_file(self, principal: Principal, file_id: str) -> FileRecord:
        """The key's file, or the 404 Groq answers for a file that does not exist."""
        record = await self.read(lambda: self.store.batches.file(principal.key.key_id, file_id))
        if record is None:
            raise no_such_record("file", file_id)
        return record

    async def upload(
        self, request: Request, principal: Principal, telemetry: RequestTelemetry
    ) -> Response:
        """Forward the upload; recorded as the key's before the client learns its id (its
        next call, creating a batch, must find it)."""
        body = await read_body(request)
        headers = checked_headers(request.headers)
        form = parse_form(body, headers.get("content-type", ""))
        files = form.named("file")
        upload = files[0] if len(files) == 1 else None
        # Read in a worker thread: a 10 MB file takes a while, and the event loop serves others.
        batch_input = (
            await anyio.to_thread.run_sync(read_batch_input, upload.content) if upload else None
        )
        result = await self.send(request, telemetry, body=body, headers=headers)
        payload, raw = await self.read_json(result)
        file_id = payload.get("id") if payload else None
        if result.response.status_code == 200 and isinstance(file_id, str) and file_id:
            record = FileRecord(
                file_id=file_id,
                key_id=principal.key.key_id,
                team_id=principal.key.team_id,
                purpose=FilePurpose.BATCH,
                filename=((upload.filename or "") if upload else "")[:MAX_FILENAME],
                bytes=len(upload.content) if upload else 0,
                created_at=utcnow(),
                batch_input=batch_input,
            )
            try:
                await anyio.to_thread.run_sync(self.store.batches.record_file, record)
            except StoreUnavailableError as error:
                await self.abandon(f"files/{file_id}", "DELETE")
                raise service_unavailable(
                    "The gateway could not record the upload; it was deleted. Try again."
                ) from error
        return self.answer(result, raw, telemetry)

    async def list_files(
        self, request: Request, principal: Principal, telemetry: RequestTelemetry
    ) -> Response:
        owned = await self.read(lambda: self.store.batches.file_ids(principal.key.key_id))
        result, raw, payload = await self.own_page(request, telemetry, owned)
        return self.answer(result, raw, telemetry, payload)

    async def own_page(
        self, request: Request, telemetry: RequestTelemetry, owned: Collection[str]
    ) -> tuple[UpstreamResult, bytes, dict[str, Any] | None]:
        """Groq's list page with only the ids in ``owned``. A page holding none of them while
        Groq has more is followed (at most :data:`MAX_LIST_PAGES` pages), so the SDKs, which
        stop at an empty page, still reach the key's own further on."""
        query = request.url.query
        for _ in range(MAX_LIST_PAGES):
            result = await self.send(request, telemetry, query=query)
            payload, raw = await self.read_json(result)
            items = payload.get("data") if payload else None
            if payload is None or not isinstance(items, list) or result.response.status_code != 200:
                return result, raw, None
            own = [item for item in items if isinstance(item, dict) and item.get("id") in owned]
            last = items[-1].get("id") if items and isinstance(items[-1], dict) else None
            payload["data"] = own
            if own or payload.get("has_more") is not True or not isinstance(last, str):
                break
            query = str(QueryParams(query).set("after", last))
        return result, raw, payload

    async def forget_file(self, key_id: str, file_id: str) -> None:
        with suppress(ConditionFailedError):  # forgotten already
            await anyio.to_thread.run_sync(
                lambda: self.store.batches.forget_file(key_id, file_id, utcnow())
            )

    # -- batches -------------------------------------------------------------------------

    async def owned_batch(self, principal: Principal, batch_id: str) -> BatchRecord:
        record = await self.read(lambda: self.store.batches.batch(principal.key.key_id, batch_id))
        if record is None:
            raise no_such_record("batch", batch_id)
        return record

    async def create_batch(
        self,
        request: Request,
        principal: Principal,
        telemetry: RequestTelemetry,
        later: AfterResponse,
    ) -> Response:
        """Check every line of the input file against the key's rights, reserve the batch's
        worst case against the key's, team's and organisation's caps, then forward."""
        body = await read_body(request)
        payload = parse_json_object(body)
        file_id = payload.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise GatewayError(
                400, "'input_file_id' is required.", code="missing_value", param="input_file_id"
            )
        batch_endpoint = payload.get("endpoint")
        if batch_endpoint not in BATCH_URL_GROUPS:
            raise GatewayError(
                400,
                f"'endpoint' must be one of {', '.join(sorted(BATCH_URL_GROUPS))}.",
                code="invalid_value",
                param="endpoint",
            )
        check_endpoint_group(principal, BATCH_URL_GROUPS[batch_endpoint])
        input_file = await self.owned_file(principal, file_id)
        batch_input = self.checked_input(principal, input_file)
        plan, models = self.plan(principal, batch_input)
        admission = await self.count(principal, plan)
        try:
            result = await self.send(
                request, telemetry, body=body, headers=checked_headers(request.headers)
            )
            answer, raw = await self.read_json(result)
        except BaseException:
            later.add(lambda: self.release(admission))
            raise
        batch_id = answer.get("id") if answer else None
        if not (200 <= result.response.status_code < 300 and isinstance(batch_id, str)):
            later.add(lambda: self.release(admission))
            return self.answer(result, raw, telemetry)
        record = BatchRecord(
            batch_id=batch_id,
            key_id=principal.key.key_id,
            team_id=principal.key.team_id,
            input_file_id=file_id,
            endpoint=batch_endpoint,
            created_at=utcnow(),
            status=str((answer or {}).get("status") or "validating"),
            reservations=list(plan.reservations),
            reserved_micros=max((r.micros for r in plan.reservations), default=0),
            models=models,
            audio_lines=batch_input.audio_models(),
            audio_seconds_per_line=(
                int(url_audio_seconds(principal, self.settings)) if batch_input.audio_lines else 0
            ),
        )
        try:
            await anyio.to_thread.run_sync(self.store.batches.record_batch, record)
        except StoreUnavailableError as error:
            logger.error(
                "batch not recorded; cancelling it",
                extra={"batch_id": batch_id, "key_id": record.key_id, "error": str(error)},
            )
            if await self.abandon(f"batches/{batch_id}/cancel", "POST"):
                later.add(lambda: self.release(admission))
            raise service_unavailable(
                "The gateway could not record the batch, and cancelled it. Try again."
            ) from error
        return self.answer(result, raw, telemetry)

    def checked_input(self, principal: Principal, input_file: FileRecord) -> BatchInput:
        """The input file's lines, each allowed to the key (model as written, since lines are
        forwarded unchanged, and endpoint group), or the 400/403 that names what is not."""
        batch_input = input_file.batch_input
        file_id = input_file.file_id
        if batch_input is None:
            raise invalid_batch_file(file_id, "it was not uploaded as one file part")
        if batch_input.invalid is not None:
            line = batch_input.invalid
            raise invalid_batch_file(file_id, f"line {line.number}: {line.reason}")
        if not batch_input.lines:
            raise invalid_batch_file(file_id, "it has no lines")
        for url in batch_input.urls:
            check_endpoint_group(principal, BATCH_URL_GROUPS[url])
        for model in sorted(batch_input.models):
            choose_model(principal, model, aliases=False)
        return batch_input

    def plan(
        self, principal: Principal, batch_input: BatchInput
    ) -> tuple[AdmissionPlan, list[str]]:
        """The batch's reservation: each model's lines at Groq's batch price (audio lines at
        the transcription price of the configured longest audio), never $0 for a model
        without a price (its fallback price, or the 403 when such models are refused)."""
        prices = self.prices()
        micros = 0
        for model, demand in sorted(batch_input.models.items()):
            if demand.prompt_tokens or demand.completion_tokens:
                cost = prices.token_cost(
                    model, demand.prompt_tokens, demand.completion_tokens, batch=True
                )
                micros += prices.admit(model, cost)
        if batch_input.audio_lines:
            seconds = url_audio_seconds(principal, self.settings)
            for model, lines in sorted(batch_input.audio_models().items()):
                cost = prices.audio_cost(model, seconds * Decimal(lines))
                micros += prices.admit(model, cost)
        plan = batch_admission_plan(
            principal.key,
            principal.team,
            self.settings.org_cap_micros,
            utcnow(),
            cost_micros=micros,
            billing_tz=self.settings.billing_tz,
        )
        return plan, sorted(batch_input.models)

    async def release(self, admission: Admission) -> None:
        """Give back the reservation of a batch Groq did not create."""
        try:
            await anyio.to_thread.run_sync(
                lambda: self.store.counters.settle(admission, micros=0, usage=None)
            )
        except StoreUnavailableError as error:  # the reservation stays: the safe direction
            logger.error("batch reservation not released", extra={"error": str(error)})

    async def list_batches(
        self,
        request: Request,
        principal: Principal,
        telemetry: RequestTelemetry,
        later: AfterResponse,
    ) -> Response:
        owned = await self.read(lambda: self.store.batches.batches_of(principal.key.key_id))
        result, raw, payload = await self.own_page(request, telemetry, owned.keys())
        for item in payload["data"] if payload else []:
            await self.seen(owned[item["id"]], item, later)
        return self.answer(result, raw, telemetry, payload)

    async def show_batch(
        self,
        request: Request,
        record: BatchRecord,
        telemetry: RequestTelemetry,
        later: AfterResponse,
    ) -> Response:
        """``GET /batches/{id}`` or its cancel, for the key that owns the batch."""
        result = await self.send(request, telemetry)
        payload, raw = await self.read_json(result)
        if payload is not None and 200 <= result.response.status_code < 300:
            await self.seen(record, payload, later)
        return self.answer(result, raw, telemetry)

    async def seen(self, record: BatchRecord, batch: dict[str, Any], later: AfterResponse) -> None:
        """A batch as Groq shows it: its result files become the key's own before the client
        learns their ids, and its end, once terminal, is metered after the response."""
        status = str(batch.get("status") or record.status)
        output = self.result_file(record, batch, "output_file_id")
        error = self.result_file(record, batch, "error_file_id")
        if output or error:
            try:
                await anyio.to_thread.run_sync(
                    lambda: self.store.batches.record_result_files(
                        record, status=status, output=output, error=error
                    )
                )
            except StoreUnavailableError as failure:
                logger.error("batch result files not recorded", extra={"error": str(failure)})
        if status in TERMINAL_BATCH_STATUSES and record.state == "open":
            output_id = batch.get("output_file_id")
            output_id = output_id if isinstance(output_id, str) and output_id else None

            async def settle() -> None:
                await self.settle(record, status, output_id)

            later.add(settle)

    def result_file(
        self, record: BatchRecord, batch: dict[str, Any], field: str
    ) -> FileRecord | None:
        """The batch's output or error file when it is new to the gateway."""
        file_id = batch.get(field)
        if not isinstance(file_id, str) or not file_id or file_id == getattr(record, field):
            return None
        return FileRecord(
            file_id=file_id,
            key_id=record.key_id,
            team_id=record.team_id,
            purpose=FilePurpose.BATCH_OUTPUT,
            created_at=utcnow(),
            batch_id=record.batch_id,
        )

    async def settle(self, record: BatchRecord, status: str, output_file_id: str | None) -> None:
        """After the response: meter the batch from its output file and give back the rest
        of its reservation, unless the poller (or another response) did first."""
        meter = BatchOutputMeter()
        if output_file_id:
            result = await self.upstream.send(
                "GET", f"files/{output_file_id}/content", query="", headers={}, body=b""
            )
            try:
                if result.response.status_code != 200:
                    logger.warning(
                        "batch output not readable; the poller meters it later",
                        extra={"batch_id": record.batch_id, "status": result.response.status_code},
                    )
                    return
                async for line in result.response.aiter_lines():
                    meter.add_line(line)
            finally:
                await result.response.aclose()
        at = utcnow()
        metered = meter.metered(record, self.prices(), at=at)
        try:
            settled = await anyio.to_thread.run_sync(
                lambda: self.store.batches.settle(record, metered, status=status, at=at)
            )
        except StoreUnavailableError as error:
            logger.error(
                "batch not metered; the poller meters it later", extra={"error": str(error)}
            )
            return
        logger.info(
            "batch metered" if settled else "batch already metered",
            extra={
                "batch_id": record.batch_id,
                "key_id": record.key_id,
                "cost_micros": sum(m.record.cost_micros for m in metered),
                "lines": sum(m.lines for m in metered),
            },
        )

    # -- the upstream ------------------------------------------------------------------------

    async def send(
        self,
        request: Request,
        telemetry: RequestTelemetry,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        query: str | None = None,
    ) -> UpstreamResult:
        started = time.perf_counter()
        result = await self.upstream.send(
            request.method,
            telemetry.path,
            query=request.url.query if query is None else query,
            headers=headers if headers is not None else checked_headers(request.headers),
            body=body,
        )
        telemetry.upstream_ms = (time.perf_counter() - started) * 1000
        telemetry.upstream_attempts = result.attempts
        telemetry.upstream_429, telemetry.upstream_5xx = result.throttled, result.server_errors
        return result

    async def relay(self, request: Request, telemetry: RequestTelemetry) -> Response:
        """Pass Groq's answer through as it arrives (a file's content may be large)."""
        result = await self.send(request, telemetry)
        response = result.response
        telemetry.status = response.status_code

        async def chunks() -> Any:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()
                telemetry.total_ms = (time.perf_counter() - telemetry.started) * 1000

        return StreamingResponse(
            chunks(), status_code=response.status_code, headers=response_headers(response.headers)
        )

    async def read_json(self, result: UpstreamResult) -> tuple[dict[str, Any] | None, bytes]:
        try:
            raw = await result.response.aread()
        finally:
            await result.response.aclose()
        return _json(raw), raw

    def answer(
        self,
        result: UpstreamResult,
        raw: bytes,
        telemetry: RequestTelemetry,
        payload: dict[str, Any] | None = None,
    ) -> Response:
        """Groq's answer as it came (or ``payload``, a list filtered to the key's own)."""
        response = result.response
        telemetry.status = response.status_code
        telemetry.total_ms = (time.perf_counter() - telemetry.started) * 1000
        headers = response_headers(response.headers)
        if payload is not None:
            headers.pop("content-type", None)
            return JSONResponse(payload, status_code=response.status_code, headers=headers)
        return Response(raw, status_code=response.status_code, headers=headers)

    async def abandon(self, path: str, method: str) -> bool:
        """Undo at Groq what the gateway could not record (best effort); True when done."""
        try:
            result = await self.upstream.send(method, path, query="", headers={}, body=b"")
            await result.response.aclose()
        except (GatewayError, httpx.HTTPError):
            return False
        return 200 <= result.response.status_code < 300

    async def read(self, read: Callable[[], T]) -> T:
        """One ownership read before anything is forwarded; 503 when DynamoDB cannot say."""
        try:
            return await anyio.to_thread.run_sync(read)
        except StoreUnavailableError as error:
            raise service_unavailable(
                "The gateway cannot check this request right now; nothing was forwarded."
            ) from error
