"""The connection to Groq: one pooled httpx client, header filtering, retries, key refresh
on 401.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import anyio.to_thread
import httpx

from groq_gateway.core.errors import GatewayError, service_unavailable
from groq_gateway.secrets_manager import (
    SecretNotConfiguredError,
    SecretUnavailableError,
    UpstreamKeys,
)

# Requests carry only the headers Groq needs, and the upstream key in place of the client's
# gateway key. Responses carry back only headers that reveal nothing about the upstream
# organisation or key (x-request-id is Groq's own request id).
FORWARDED_REQUEST_HEADERS = frozenset({"content-type", "accept"})
RETURNED_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "cache-control",
        "content-disposition",
        "x-request-id",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    }
)


def request_headers(client_headers: Mapping[str, str], upstream_key: str) -> dict[str, str]:
    headers = {k: v for k, v in client_headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
    headers["authorization"] = f"Bearer {upstream_key}"
    # Identity encoding: the proxy reads usage out of the body, and Lambda-to-Groq bandwidth
    # is not where time goes.
    headers["accept-encoding"] = "identity"
    return headers


def response_headers(upstream_headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in upstream_headers.items() if k.lower() in RETURNED_RESPONSE_HEADERS}


# The request to send with a given upstream key.
RequestBuilder = Callable[[str], httpx.Request]

# Groq answers these when a retry may succeed: rate limited, flex capacity, server errors.
RETRYABLE_STATUSES = frozenset({429, 498, 500, 502, 503, 504})


@dataclass
class UpstreamResult:
    """The final upstream response, and what it took to get it."""

    response: httpx.Response
    attempts: int = 1
    throttled: int = 0  # upstream 429 answers seen, retried ones included
    server_errors: int = 0  # upstream 5xx answers seen, retried ones included


def retry_delay(response: httpx.Response | None, attempt: int, base: float) -> float:
    """``retry-after-ms``/``retry-after`` when Groq gives one, else full-jitter backoff."""
    if response is not None:
        for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = response.headers.get(header, "")
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return random.uniform(0, base * 2**attempt)  # noqa: S311 - jitter, not secrecy


class Upstream:
    """Sends requests to ``<root>/openai/v1/<path>`` with the current upstream key.

    Retries a bounded number of times on 429, 5xx, timeouts and connection errors, with
    exponential backoff and jitter, honouring ``retry-after``, and never past the request's
    retry budget; then hands back the last answer.
    """

    def __init__(
        self,
        root: str,
        keys: UpstreamKeys,
        timeout: httpx.Timeout,
        *,
        max_retries: int = 2,
        retry_budget: float = 20.0,
        backoff_base: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._keys = keys
        self.max_retries = max_retries
        self.retry_budget = retry_budget
        self.backoff_base = backoff_base
        self._client = httpx.AsyncClient(
            base_url=f"{root}/openai/v1/",
            timeout=timeout,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport,
        )

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> UpstreamResult:
        """The upstream response with its body not yet read (the caller streams and closes it)."""

        def build(key: str) -> httpx.Request:
            return self._client.build_request(
                method,
                path,
                params=httpx.QueryParams(query) if query else None,
                headers=request_headers(headers, key),
                content=body,
            )

        deadline = time.monotonic() + self.retry_budget
        throttled = server_errors = 0
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await self._send_refreshing_key(build)
            except GatewayError:
                delay = retry_delay(None, attempt, self.backoff_base)
                if not self._may_retry(attempt, delay, deadline):
                    raise
            else:
                status = response.status_code
                throttled += status == 429
                server_errors += status >= 500
                delay = retry_delay(response, attempt, self.backoff_base)
                if status not in RETRYABLE_STATUSES or not self._may_retry(
                    attempt, delay, deadline
                ):
                    return UpstreamResult(
                        response=response,
                        attempts=attempt + 1,
                        throttled=throttled,
                        server_errors=server_errors,
                    )
                await response.aclose()
            await anyio.sleep(delay)
            attempt += 1

    def _may_retry(self, attempt: int, delay: float, deadline: float) -> bool:
        return attempt < self.max_retries and time.monotonic() + delay <= deadline

    async def _send_refreshing_key(self, build: RequestBuilder) -> httpx.Response:
        """An upstream 401 means the key was rotated or revoked since it was cached: read the
        secret again and retry once, so a rotation costs no client request."""
        response = await self._send_once(build, fresh_key=False)
        if response.status_code == 401:
            await response.aclose()
            response = await self._send_once(build, fresh_key=True)
        return response

    async def _send_once(self, build: RequestBuilder, *, fresh_key: bool) -> httpx.Response:
        # A key read within its cache life needs no worker thread (most requests).
        key = None if fresh_key else self._keys.held_key()
        try:
            if key is None:
                key = await anyio.to_thread.run_sync(lambda: self._keys.active_key(force=fresh_key))
        except SecretNotConfiguredError as error:
            raise service_unavailable(
                "The gateway has no upstream Groq key configured yet; an operator must store "
                "one in the upstream key secret."
            ) from error
        except SecretUnavailableError as error:
            raise service_unavailable("The gateway cannot read its upstream key.") from error
        request = build(key)
        try:
            return await self._client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise GatewayError(
                504, "Groq did not answer in time.", type="api_error", code="upstream_timeout"
            ) from error
        except httpx.HTTPError as error:
            raise GatewayError(
                502, "The gateway could not reach Groq.", type="api_error", code="upstream_error"
            ) from error

    async def aclose(self) -> None:
        await self._client.aclose()
