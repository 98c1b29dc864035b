"""Passing an upstream response to the client as it arrives (SSE included), with the usage tap
reading what it used; settled after the response, also when the stream was cut off."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import httpx
from starlette.responses import JSONResponse, Response

from groq_gateway.proxy.forward import Forward
from groq_gateway.proxy.policy import Principal, allowed_models
from groq_gateway.proxy.settlement import Settlement
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.usage_tap import JsonTap, ObservedUsage, SseTap
from groq_gateway.store.counters import Admission


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
