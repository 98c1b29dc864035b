"""The simulator's ASGI app: Groq's `/openai/v1` API, plus test controls under `/_simulator/`."""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .config import ModelKind, SimulatedModel, SimulatorConfig
from .content import (
    Form,
    audio_duration,
    count_prompt_tokens,
    format_duration,
    natural_length,
    new_id,
    parse_multipart,
    reply_words,
    silent_wav,
    text_of,
    url_audio_duration,
)
from .replies import SERVICE_TIER, Json, Reply
from .state import Fault, TokenBucket

ORGANIZATION = "org_sim"
REGION = "sim"
DOCS = "https://console.groq.com/docs/"
RATE_LIMITS_DOCS = f"Visit {DOCS}rate-limits for more information."
REQUEST_LOG_SIZE = 10_000
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MODEL_USES: dict[ModelKind, str] = {
    "chat": "chat completions",
    "transcription": "transcriptions and translations",
    "speech": "text to speech",
}
# Bodies of injected failures: status -> (message, type, code).
FAILURES: dict[int, tuple[str, str, str | None]] = {
    498: ("Capacity exceeded for the flex service tier. Please try again later.",
          "invalid_request_error", "capacity_exceeded"),
    500: ("Internal Server Error", "internal_server_error", None),
    502: ("Bad Gateway", "internal_server_error", None),
    503: ("Service Unavailable", "internal_server_error", "service_unavailable"),
}  # fmt: skip

# The chat completion request properties Groq accepts (its API reference, late 2026).
CHAT_PROPERTIES = frozenset(
    {
        "model",
        "messages",
        "citation_options",
        "compound_custom",
        "disable_tool_validation",
        "documents",
        "exclude_domains",
        "frequency_penalty",
        "function_call",
        "functions",
        "include_domains",
        "include_reasoning",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "reasoning_effort",
        "reasoning_format",
        "response_format",
        "search_settings",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)


class ApiError(Exception):
    """An error answered in Groq's shape: `{"error": {"message", "type", "code"?, "param"?}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers

    def body(self) -> Json:
        error: Json = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}

    def response(self) -> Response:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class StreamCut(Exception):
    """Raised mid-body to drop a streamed response, as an injected fault asked."""


@dataclass
class Call:
    """One `/openai/v1` request, read once and recorded."""

    request: Request
    id: str
    key: str
    json: Any = None
    form: Form | None = None
    cut_after: int | None = None

    @property
    def streaming(self) -> bool:
        return isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def model_name(self) -> str:
        model = self.json.get("model") if isinstance(self.json, dict) else None
        if self.form is not None:
            model = self.form.fields.get("model")
        return model if isinstance(model, str) else ""

    def body(self) -> Json:
        if not isinstance(self.json, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return self.json

    def multipart(self) -> Form:
        if self.form is None:
            raise ApiError(400, "The request body must be multipart/form-data.")
        return self.form


Handler = Callable[[Call], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
        }


class Simulator:
    """The state and the endpoints of one simulated Groq organisation."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.models = {model.id: model for model in config.models}
        self.reset()

    def reset(self) -> None:
        """Forget every request, fault, file, batch and rate-limit use."""
        self.random = random.Random(self.config.seed)  # noqa: S311 (simulation, not security)
        self.faults: deque[Fault] = deque()
        self.log: deque[Json] = deque(maxlen=REQUEST_LOG_SIZE)
        self.counts: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.tokens = TokenBucket(self.config.tokens_per_minute, 60.0)
        self.requests = TokenBucket(self.config.requests_per_day, 86_400.0)
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, Json] = {}

    def routes(self) -> list[Route]:
        api, v1 = self._api, "/openai/v1"
        return [
            Route(f"{v1}/chat/completions", api(self.chat_completions), methods=["POST"]),
            Route(f"{v1}/responses", api(self.create_response), methods=["POST"]),
            Route(f"{v1}/models", api(self.list_models)),
            Route(f"{v1}/models/{{model:path}}", api(self.get_model)),
            Route(f"{v1}/audio/transcriptions", api(self.transcribe), methods=["POST"]),
            Route(f"{v1}/audio/translations", api(self.translate), methods=["POST"]),
            Route(f"{v1}/audio/speech", api(self.speech), methods=["POST"]),
            Route(f"{v1}/files", api(self.upload_file), methods=["POST"]),
            Route(f"{v1}/files", api(self.list_files)),
            Route(f"{v1}/files/{{file_id}}", api(self.get_file)),
            Route(f"{v1}/files/{{file_id}}", api(self.delete_file), methods=["DELETE"]),
            Route(f"{v1}/files/{{file_id}}/content", api(self.file_content)),
            Route(f"{v1}/batches", api(self.create_batch), methods=["POST"]),
            Route(f"{v1}/batches", api(self.list_batches)),
            Route(f"{v1}/batches/{{batch_id}}", api(self.get_batch)),
            Route(f"{v1}/batches/{{batch_id}}/cancel", api(self.cancel_batch), methods=["POST"]),
            Route(f"{v1}/{{path:path}}", api(self.unknown_url), methods=ALL_METHODS),
            Route("/_simulator/faults", self.add_faults, methods=["POST"]),
            Route("/_simulator/faults", self.pending_faults),
            Route("/_simulator/faults", self.clear_faults, methods=["DELETE"]),
            Route("/_simulator/requests", self.received_requests),
            Route("/_simulator/requests", self.clear_requests, methods=["DELETE"]),
            Route("/_simulator/stats", self.stats),
            Route("/_simulator/batches/{batch_id}/end", self.end_batch, methods=["POST"]),
            Route("/_simulator/reset", self.reset_all, methods=["POST"]),
            Route("/{path:path}", self.unknown_path, methods=ALL_METHODS),
        ]

    # The path every `/openai/v1` request takes.

    def _api(self, handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            call = await self._receive(request)
            try:
                response = await self._answer(call, handler)
            except ApiError as error:
                response = error.response()
            response.headers.update(self._headers(call.id))
            self.statuses[response.status_code] += 1
            return response

        return endpoint

    async def _receive(self, request: Request) -> Call:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        call = Call(request, new_id("req_"), key.strip() if scheme.lower() == "bearer" else "")
        entry: Json = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "key": call.key or None,
        }
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            call.form = parse_multipart(content_type, body)
            files = {name: len(upload.content) for name, upload in call.form.files.items()}
            entry["form"] = {"fields": dict(call.form.fields), "files": files}
        elif body:
            try:
                call.json = json.loads(body)
            except ValueError:
                entry["invalid_json_bytes"] = len(body)
            entry["json"] = call.json
        self.log.append(entry)
        self.counts["requests"] += 1
        self.paths[f"{request.method} {request.url.path}"] += 1
        return call

    async def _answer(self, call: Call, handler: Handler) -> Response:
        await asyncio.sleep(self.config.latency_ms / 1000)
        keys = self.config.api_keys
        if not call.key or (keys is not None and call.key not in keys):
            raise ApiError(401, "Invalid API Key", code="invalid_api_key")
        fault = self._take_fault(call.streaming)
        if fault is not None:
            self.counts["faults_injected"] += 1
            await asyncio.sleep((fault.delay_ms or 0) / 1000)
            if fault.status is not None:
                return self._failure(call, fault.status, fault.retry_after)
            call.cut_after = fault.cut_stream_after_chunks
        if self.random.random() < self.config.failure_rate:
            self.counts["random_failures"] += 1
            return self._failure(call, self.config.failure_status, None)
        if self.requests.wait_for(1) > 0:
            raise self._rate_limited(call.model_name, "requests", self.requests, 1)
        self.requests.take(1)
        return await handler(call)

    def _take_fault(self, streaming: bool) -> Fault | None:
        for fault in self.faults:
            if streaming or not fault.streams_only:
                self.faults.remove(fault)
                return fault
        return None

    def _failure(self, call: Call, status: int, retry_after: float | None) -> Response:
        if status == 429:
            wait = 1.0 if retry_after is None else retry_after
            limit = self.tokens.capacity
            error = _rate_limit_error(call.model_name, "tokens", limit, limit, 1, wait)
            error.headers = {"retry-after": f"{wait:g}"}
            return error.response()
        message, kind, code = _failure_body(status)
        headers = None if retry_after is None else {"retry-after": f"{retry_after:g}"}
        return ApiError(status, message, type=kind, code=code, headers=headers).response()

    def _rate_limited(self, model: str, kind: str, bucket: TokenBucket, requested: int) -> ApiError:
        self.counts["rate_limited"] += 1
        wait = bucket.wait_for(requested)
        used = math.ceil(bucket.used)
        return _rate_limit_error(model, kind, bucket.capacity, used, requested, wait)

    def _charge(self, reply: Reply) -> None:
        """Take the reply's tokens from the per-minute allowance, or refuse like Groq."""
        requested, limit, model = reply.requested_tokens, self.tokens.capacity, reply.model.id
        if requested > limit:
            raise ApiError(
                413,
                f"Request too large for model `{model}` in organization `{ORGANIZATION}` "
                f"service tier `{SERVICE_TIER}` on tokens per minute (TPM): Limit {limit}, "
                f"Requested {requested}, please reduce your message size and try again. "
                + RATE_LIMITS_DOCS,
                type="tokens",
                code="rate_limit_exceeded",
            )
        if self.tokens.wait_for(requested) > 0:
            raise self._rate_limited(model, "tokens", self.tokens, requested)
        self.tokens.take(requested)
        self.counts["prompt_tokens"] += reply.prompt_tokens
        self.counts["completion_tokens"] += len(reply.words)

    def _headers(self, request_id: str) -> dict[str, str]:
        return {
            "x-request-id": request_id,
            "x-groq-region": REGION,
            "x-groq-organization": ORGANIZATION,
            "x-ratelimit-limit-requests": str(self.requests.capacity),
            "x-ratelimit-limit-tokens": str(self.tokens.capacity),
            "x-ratelimit-remaining-requests": str(self.requests.remaining()),
            "x-ratelimit-remaining-tokens": str(self.tokens.remaining()),
            "x-ratelimit-reset-requests": format_duration(self.requests.reset_after()),
            "x-ratelimit-reset-tokens": format_duration(self.tokens.reset_after()),
        }

    def _stream(self, call: Call, body: list[str], closing: list[str]) -> StreamingResponse:
        """Send server-sent events one by one, `chunk_interval_ms` apart.

        An injected cut drops the connection after `cut_after` events of `body`, so the
        client never sees `closing` (the usage chunk, `data: [DONE]`).
        """
        cut = None if call.cut_after is None else min(call.cut_after, len(body))
        interval = self.config.chunk_interval_ms / 1000

        async def events() -> AsyncIterator[str]:
            for index, event in enumerate([*body, *closing]):
                if index == cut:
                    self.counts["streams_cut"] += 1
                    raise StreamCut(f"stream cut after {index} chunks by an injected fault")
                if index:
                    await asyncio.sleep(interval)
                yield event

        headers = {"cache-control": "no-cache"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    def _model(self, name: Any, kind: ModelKind) -> SimulatedModel:
        if not isinstance(name, str) or not name:
            raise ApiError(400, "'model' : property 'model' is missing", param="model")
        model = self.models.get(name)
        if model is not None and model.decommissioned:
            raise ApiError(
                400,
                f"The model `{name}` has been decommissioned and is no longer supported. "
                f"Please refer to {DOCS}deprecations for a recommendation on which model "
                "to use instead.",
                code="model_decommissioned",
            )
        if model is None or not model.active:
            raise ApiError(
                404,
                f"The model `{name}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        if model.kind != kind:
            message = f"The model `{name}` does not support {MODEL_USES[kind]}."
            raise ApiError(400, message, param="model")
        return model

    def _reply(self, model: SimulatedModel, messages: list[Json], limit: int | None) -> Reply:
        prompt = next(
            (text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        # Like a real model: the reply's own length, cut at the output limit if it is longer.
        length = natural_length(prompt)
        truncated = limit is not None and limit < length
        words = reply_words(prompt, limit if truncated and limit is not None else length)
        return Reply(model, count_prompt_tokens(messages), words, truncated=truncated, limit=limit)

    def _chat_reply(self, body: Json) -> Reply:
        unknown = sorted(set(body) - CHAT_PROPERTIES)
        if unknown:
            # Groq refuses properties it does not know, naming the first.
            raise ApiError(400, f"property '{unknown[0]}' is unsupported", param=unknown[0])
        model = self._model(body.get("model"), "chat")
        messages = _messages(body.get("messages"))
        return self._reply(model, messages, _max_tokens(body, model, "max_completion_tokens"))

    # /openai/v1 endpoints.

    async def chat_completions(self, call: Call) -> Response:
        body = call.body()
        reply = self._chat_reply(body)
        self._charge(reply)
        if not call.streaming:
            return JSONResponse(reply.completion(call.id))
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        chunks, closing = reply.chunks(call.id, include_usage)
        done = ["data: [DONE]\n\n"]
        return self._stream(call, [_data(c) for c in chunks], [*map(_data, closing), *done])

    async def create_response(self, call: Call) -> Response:
        body = call.body()
        model = self._model(body.get("model"), "chat")
        if body.get("store"):
            message = "`store` is not supported: set it to false or leave it out."
            raise ApiError(400, message, param="store")
        messages = _response_input(body.get("input"))
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            messages.insert(0, {"role": "system", "content": instructions})
        limit = _max_tokens(body, model, "max_output_tokens")
        reply = self._reply(model, messages, limit)
        self._charge(reply)
        response = reply.response(limit)
        if not call.streaming:
            return JSONResponse(response)
        events, closing = reply.response_events(response)
        return self._stream(call, [*map(_event, events)], [*map(_event, closing)])

    async def list_models(self, call: Call) -> Response:
        models = [_model_json(m) for m in self.models.values() if not m.decommissioned]
        return JSONResponse({"object": "list", "data": models})

    async def get_model(self, call: Call) -> Response:
        name = call.request.path_params["model"]
        model = self.models.get(name)
        if model is None or model.decommissioned:
            message = f"The model `{name}` does not exist or you do not have access to it."
            raise ApiError(404, message, code="model_not_found")
        return JSONResponse(_model_json(model))

    async def transcribe(self, call: Call) -> Response:
        return self._audio(call, "transcribe")

    async def translate(self, call: Call) -> Response:
        return self._audio(call, "translate")

    def _audio(self, call: Call, task: str) -> Response:
        form = call.multipart()
        self._model(form.fields.get("model"), "transcription")
        upload = form.files.get("file")
        url = form.fields.get("url")
        if upload is None and not url:
            raise ApiError(400, "either file or url must be provided", param="file")
        name, size = (upload.filename, len(upload.content)) if upload else (str(url), 0)
        response_format = form.fields.get("response_format", "json")
        if response_format not in ("json", "verbose_json", "text"):
            message = "response_format must be one of json, verbose_json or text"
            raise ApiError(400, message, param="response_format")
        noun = "transcription" if task == "transcribe" else "translation"
        text = f"Simulated {noun} of {name} ({size} bytes)."
        if response_format == "text":
            return PlainTextResponse(text)
        result: Json = {"text": text, "x_groq": {"id": call.id}}
        if response_format == "verbose_json":
            language = form.fields.get("language", "en") if task == "transcribe" else "en"
            duration = audio_duration(size) if upload else url_audio_duration(str(url))
            extra = {"task": task, "language": language, "duration": duration}
            result = {**extra, "text": text, "segments": [], "x_groq": result["x_groq"]}
        return JSONResponse(result)

    async def speech(self, call: Call) -> Response:
        body = call.body()
        self._model(body.get("model"), "speech")
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "'input' : property 'input' is missing", param="input")
        if not isinstance(body.get("voice"), str):
            raise ApiError(400, "'voice' : property 'voice' is missing", param="voice")
        return Response(silent_wav(len(text.split())), media_type="audio/wav")

    async def upload_file(self, call: Call) -> Response:
        form = call.multipart()
        if form.fields.get("purpose") != "batch":
            raise ApiError(400, "'purpose' : value must be 'batch'", param="purpose")
        upload = form.files.get("file")
        if upload is None:
            raise ApiError(400, "'file' : property 'file' is missing", param="file")
        stored = self._store(upload.filename, upload.content, "batch")
        return JSONResponse(stored.to_json())

    async def list_files(self, call: Call) -> Response:
        return _page(call, [stored.to_json() for stored in self.files.values()])

    async def get_file(self, call: Call) -> Response:
        return JSONResponse(self._file(call).to_json())

    async def delete_file(self, call: Call) -> Response:
        stored = self.files.pop(self._file(call).id)
        return JSONResponse({"id": stored.id, "object": "file", "deleted": True})

    async def file_content(self, call: Call) -> Response:
        return Response(self._file(call).content, media_type="application/octet-stream")

    def _store(self, filename: str, content: bytes, purpose: str) -> StoredFile:
        stored = StoredFile(new_id("file_"), filename, purpose, content)
        self.files[stored.id] = stored
        return stored

    def _file(self, call: Call) -> StoredFile:
        file_id = call.request.path_params["file_id"]
        if file_id not in self.files:
            raise ApiError(404, f"File `{file_id}` not found", code="not_found")
        return self.files[file_id]

    async def create_batch(self, call: Call) -> Response:
        body = call.body()
        input_file_id = body.get("input_file_id")
        if not isinstance(input_file_id, str) or input_file_id not in self.files:
            message = f"Input file `{input_file_id}` not found"
            raise ApiError(400, message, param="input_file_id")
        if body.get("endpoint") != "/v1/chat/completions":
            message = "The simulator runs batches for `/v1/chat/completions` only."
            raise ApiError(400, message, param="endpoint")
        window = body.get("completion_window")
        hours = _window_hours(window)
        if hours is None or not 24 <= hours <= 7 * 24:
            message = "completion_window must be between 24h and 7d"
            raise ApiError(400, message, param="completion_window")
        now = int(time.time())
        batch: Json = {
            "id": new_id("batch_"),
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "errors": None,
            "input_file_id": input_file_id,
            "completion_window": window,
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + hours * 3600,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        self.batches[batch["id"]] = batch
        return JSONResponse(batch)

    async def list_batches(self, call: Call) -> Response:
        return _page(call, [self._run(batch) for batch in self.batches.values()])

    async def get_batch(self, call: Call) -> Response:
        return JSONResponse(self._run(self._batch(call)))

    async def cancel_batch(self, call: Call) -> Response:
        batch = self._batch(call)
        if batch["status"] != "validating":
            message = f"Cannot cancel a batch with status `{batch['status']}`."
            raise ApiError(400, message)
        now = int(time.time())
        batch.update(status="cancelled", cancelling_at=now, cancelled_at=now)
        return JSONResponse(batch)

    def _batch(self, call: Call) -> Json:
        batch_id = call.request.path_params["batch_id"]
        if batch_id not in self.batches:
            raise ApiError(404, f"Batch `{batch_id}` not found", code="not_found")
        return self.batches[batch_id]

    def _run(self, batch: Json, end: str = "completed", limit: int | None = None) -> Json:
        """Answer a batch's requests when it is first looked at after its creation; ``end``
        and ``limit`` (a test's control): it ends so after answering only ``limit`` lines."""
        if batch["status"] != "validating":
            return batch
        lines = self.files[batch["input_file_id"]].content.decode(errors="replace").splitlines()
        lines = [line for line in lines if line.strip()]
        results = [self._batch_result(line) for line in lines[:limit]]
        done = [result for ok, result in results if ok]
        failed = [result for ok, result in results if not ok]
        now = int(time.time())
        batch.update(
            status=end,
            in_progress_at=now,
            finalizing_at=now,
            request_counts={"total": len(lines), "completed": len(done), "failed": len(failed)},
        )
        batch[f"{end}_at"] = now
        if end == "cancelled":
            batch["cancelling_at"] = now
        for key, items in (("output_file_id", done), ("error_file_id", failed)):
            if items:
                content = "".join(json.dumps(item) + "\n" for item in items).encode()
                batch[key] = self._store(f"{batch['id']}_{key}.jsonl", content, "batch_output").id
        return batch

    def _batch_result(self, line: str) -> tuple[bool, Json]:
        request_id = new_id("req_")
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        item = item if isinstance(item, dict) else {}
        try:
            if not isinstance(item.get("body"), dict):
                raise ApiError(400, "Each line must be a JSON object with a `body` object.")
            status, payload = 200, self._chat_reply(item["body"]).completion(request_id)
        except ApiError as error:
            status, payload = error.status, error.body()
        response = {"status_code": status, "request_id": request_id, "body": payload}
        result = {
            "id": new_id("batch_req_"),
            "custom_id": item.get("custom_id"),
            "response": response,
            "error": None,
        }
        return status == 200, result

    async def unknown_url(self, call: Call) -> Response:
        raise _unknown_url(call.request)

    # Test controls under /_simulator/ (no auth, no latency, no faults).

    async def add_faults(self, request: Request) -> Response:
        try:
            faults = Fault.parse(await request.json())
        except ValueError as error:
            return ApiError(400, str(error)).response()
        self.faults.extend(faults)
        return JSONResponse({"queued": len(faults), "pending": len(self.faults)})

    async def pending_faults(self, request: Request) -> Response:
        return JSONResponse([fault.to_json() for fault in self.faults])

    async def clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response(status_code=204)

    async def received_requests(self, request: Request) -> Response:
        return JSONResponse(list(self.log))

    async def clear_requests(self, request: Request) -> Response:
        self.log.clear()
        return Response(status_code=204)

    async def stats(self, request: Request) -> Response:
        names = ("faults_injected", "random_failures", "streams_cut", "rate_limited")
        return JSONResponse(
            {
                "requests": self.counts["requests"],
                "by_path": dict(self.paths),
                "by_status": {str(status): n for status, n in sorted(self.statuses.items())},
                **{name: self.counts[name] for name in names},
                "pending_faults": len(self.faults),
                "prompt_tokens": self.counts["prompt_tokens"],
                "completion_tokens": self.counts["completion_tokens"],
            }
        )

    async def end_batch(self, request: Request) -> Response:
        """End a batch that has not run yet as ``{"status": ...}`` says (completed, failed,
        expired or cancelled) after answering its first ``{"lines": n}`` lines (all if
        absent), with an output file of what it answered, as Groq does for a batch cut short."""
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            return ApiError(404, "Batch not found", code="not_found").response()
        try:
            control = await request.json()
        except ValueError:
            control = None
        end = control.get("status") if isinstance(control, dict) else None
        limit = control.get("lines") if isinstance(control, dict) else None
        if end not in ("completed", "failed", "expired", "cancelled") or not (
            limit is None or (isinstance(limit, int) and limit >= 0)
        ):
            message = 'Send {"status": completed|failed|expired|cancelled, "lines": n}.'
            return ApiError(400, message).response()
        if batch["status"] != "validating":
            return ApiError(409, f"The batch is already {batch['status']}.").response()
        return JSONResponse(self._run(batch, end, limit))

    async def reset_all(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)

    async def unknown_path(self, request: Request) -> Response:
        response = _unknown_url(request).response()
        response.headers["x-request-id"] = new_id("req_")
        return response


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """A Groq API simulator; its `Simulator` is at `app.state.simulator`."""
    simulator = Simulator(config or SimulatorConfig())
    app = Starlette(routes=simulator.routes())
    app.state.simulator = simulator
    return app


def _unknown_url(request: Request) -> ApiError:
    message = (
        f"Unknown request URL: {request.method} {request.url.path}. "
        f"Please check the URL for typos, or see the docs at {DOCS}"
    )
    return ApiError(404, message, code="unknown_url")


def _rate_limit_error(
    model: str, kind: str, limit: int, used: int, requested: int, wait: float
) -> ApiError:
    """Groq's 429, of type `tokens` or `requests`, with `retry-after` in whole seconds."""
    unit = "tokens per minute (TPM)" if kind == "tokens" else "requests per day (RPD)"
    message = (
        f"Rate limit reached for model `{model}` in organization `{ORGANIZATION}` "
        f"service tier `{SERVICE_TIER}` on {unit}: Limit {limit}, Used {used}, "
        f"Requested {requested}. Please try again in {format_duration(wait, 3)}. "
        + RATE_LIMITS_DOCS
    )
    headers = {"retry-after": str(max(1, math.ceil(wait)))}
    return ApiError(429, message, type=kind, code="rate_limit_exceeded", headers=headers)


def _messages(value: Any) -> list[Json]:
    if value is None:
        raise ApiError(400, "'messages' : property 'messages' is missing", param="messages")
    if not isinstance(value, list) or not value:
        message = "'messages' : value must be an array with at least one item"
        raise ApiError(400, message, param="messages")
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            message = f"'messages.{index}' : property 'role' is missing"
            raise ApiError(400, message, param="messages")
    return value


def _response_input(value: Any) -> list[Json]:
    """The Responses API `input` (a string, or a list of messages) as chat messages."""
    if isinstance(value, str) and value:
        return [{"role": "user", "content": value}]
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [{"role": it.get("role", "user"), "content": it.get("content")} for it in value]
    message = "'input' : value must be a string or a list of input items"
    raise ApiError(400, message, param="input")


def _max_tokens(body: Json, model: SimulatedModel, name: str) -> int | None:
    """The caller's output token limit: `name`, or the older `max_tokens`."""
    for key in (name, "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ApiError(400, f"'{key}' : value must be an integer of at least 1", param=key)
        if value > model.context_window:
            message = (
                f"`{key}` must be less than or equal to `{model.context_window}`, "
                f"the context window of `{model.id}`"
            )
            raise ApiError(400, message, param=key)
        return value
    return None


def _page(call: Call, items: list[Json]) -> Response:
    """A list as Groq pages it: ``limit`` items (default 100) after the id ``after``, with
    ``first_id``, ``last_id`` and ``has_more`` (the SDKs page on until it is false)."""
    query = call.request.query_params
    after, raw_limit = query.get("after"), query.get("limit", "100")
    limit = int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else 100
    ids = [item["id"] for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    page = items[start : start + limit]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(items),
        }
    )


def _window_hours(window: Any) -> int | None:
    match = re.fullmatch(r"(\d+)([hd])", window) if isinstance(window, str) else None
    if match is None:
        return None
    return int(match[1]) * (24 if match[2] == "d" else 1)


def _model_json(model: SimulatedModel) -> Json:
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
        "active": model.active,
        "context_window": model.context_window,
        "public_apps": None,
    }


def _data(chunk: Json) -> str:
    return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"


def _event(event: Json) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


def _failure_body(status: int) -> tuple[str, str, str | None]:
    """The message, type and code of an injected failure."""
    if status in FAILURES:
        return FAILURES[status]
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = "Error"
    return message, "internal_server_error" if status >= 500 else "invalid_request_error", None
