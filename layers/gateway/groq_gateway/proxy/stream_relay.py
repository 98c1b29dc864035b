"""Passing an upstream response to the client as it arrives (SSE included), with the usage tap
reading what it used; settled after the response, also when the stream was cut off. A few
answers are rewritten on the way: the model list filtered to the key's models, a transcript
written in the format the client asked for, Groq's rate-limit and size errors in the
gateway's own words (they name Groq's organisation and its organisation-wide figures)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from groq_gateway.proxy.forward import Forward
from groq_gateway.proxy.policy import Principal, allowed_models
from groq_gateway.proxy.settlement import Settlement
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.usage_tap import JsonTap, ObservedUsage, SseTap
from groq_gateway.store.counters import Admission

# Groq's limit names, as its messages abbreviate them.
LIMIT_UNITS = {
    "RPM": "requests per minute",
    "RPD": "requests per day",
    "TPM": "tokens per minute",
    "TPD": "tokens per day",
    "ASH": "audio seconds per hour",
    "ASD": "audio seconds per day",
}
_LIMIT_UNIT = re.compile(r"\((RPM|RPD|TPM|TPD|ASH|ASD)\)")
_RETRY_IN = re.compile(r"try again in ((?:\d+h)?(?:\d+m)?(?:\d+(?:\.\d+)?(?:ms|s))?)\b")
# Enough of an upstream error body to read its type, code and message.
MAX_ERROR_BODY = 64 * 1024


@dataclass(kw_only=True)
class Relay:
    """Passes one upstream response to the client and meters it when it ends."""

    settlement: Settlement
    principal: Principal
    forward: Forward
    admission: Admission
    response: httpx.Response
    telemetry: RequestTelemetry
    upstream_started: float  # perf_counter() when the upstream call began
    tap: SseTap | JsonTap | None = field(init=False, default=None)
    ended: float | None = field(init=False, default=None)  # perf_counter() at the last byte

    def __post_init__(self) -> None:
        content_type = self.response.headers.get("content-type", "")
        if self.succeeded and "text/event-stream" in content_type:
            self.tap = SseTap(strip_usage=self.forward.strip_stream_usage)
        elif self.succeeded and "json" in content_type:
            self.tap = JsonTap()

    @property
    def succeeded(self) -> bool:
        return 200 <= self.response.status_code < 300

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """Each upstream chunk as it arrives. Settlement is not here: :meth:`finish` runs
        after the response (on the request's after-response work)."""
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

    async def respond(self, path: str, headers: dict[str, str]) -> Response:
        """The client's response: passed through as it arrives, or one of the rewrites."""
        status = self.response.status_code
        if status in (413, 429):
            return await self.upstream_limit_error(headers)
        if path == "models" and status == 200:
            return await self.model_list(headers)
        if self.forward.transcript_format is not None and self.succeeded:
            return await self.transcript(self.forward.transcript_format, headers)
        return StreamingResponse(self.stream(), status_code=status, headers=headers)

    async def _read_all(self, limit: int | None = None) -> bytes:
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in self.response.aiter_raw():
                parts.append(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    break
        finally:
            self.ended = time.perf_counter()
            await self.response.aclose()
        return b"".join(parts)

    async def upstream_limit_error(self, headers: dict[str, str]) -> Response:
        """Groq's 429 or 413 in the gateway's words: its type and code, whether to retry and
        when (the retry headers pass as they are), without Groq's organisation or figures."""
        error = _error_object(await self._read_all(MAX_ERROR_BODY))
        message = str(error.get("message") or "")
        unit_match = _LIMIT_UNIT.search(message)
        unit = LIMIT_UNITS[unit_match.group(1)] if unit_match else None
        retry = _RETRY_IN.search(message)
        if self.response.status_code == 429:
            text = "The gateway's upstream rate limit at Groq was reached"
            text += f" on {unit}." if unit else "."
            text += f" Please try again in {retry.group(1)}." if retry and retry.group(1) else ""
        else:
            text = "Request too large for the gateway's upstream limits at Groq"
            text += f" on {unit}" if unit else ""
            text += ". Reduce the prompt or max_tokens."
        kind = error.get("type")
        code = error.get("code")
        body = {
            "error": {
                "message": text,
                "type": kind if isinstance(kind, str) else "invalid_request_error",
                "param": None,
                "code": code if isinstance(code, str) else None,
            }
        }
        return JSONResponse(
            body, status_code=self.response.status_code, headers=_without_content_type(headers)
        )

    async def transcript(self, transcript_format: str, headers: dict[str, str]) -> Response:
        """Groq's verbose_json (read by the tap for its duration) as the client's ``json``
        (``text`` and Groq's ``x_groq``) or ``text``."""
        raw = await self._read_all()
        if self.tap is not None:
            self.tap.feed(raw)
            self.tap.finish()
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = None
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str):  # not a transcript: passed on as it came
            return Response(raw, status_code=self.response.status_code, headers=headers)
        plain = _without_content_type(headers)
        if transcript_format == "text":
            return PlainTextResponse(text, headers=plain)
        body: dict[str, Any] = {"text": text}
        if "x_groq" in payload:
            body["x_groq"] = payload["x_groq"]
        return JSONResponse(body, headers=plain)

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
        await self.settlement.settle(
            self.admission, self.principal, self.forward, observed, self.telemetry
        )


def _error_object(raw: bytes) -> dict[str, Any]:
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _without_content_type(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "content-type"}
