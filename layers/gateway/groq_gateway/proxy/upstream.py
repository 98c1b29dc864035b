"""The connection to Groq: one pooled httpx client, header filtering, key refresh on 401.

Requests carry only the headers Groq needs and the upstream key in place of the client's
gateway key. Responses carry back only headers that reveal nothing about the upstream
organisation or key (``x-request-id`` does reach the client, as Groq's own request id).
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio.to_thread
import httpx

from groq_gateway.errors import GatewayError
from groq_gateway.secrets import UpstreamKeys

FORWARDED_REQUEST_HEADERS = frozenset({"content-type", "accept"})
RETURNED_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "cache-control",
        "content-disposition",
        "x-request-id",
        "retry-after",
        "retry-after-ms",
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


class Upstream:
    """Sends requests to ``<root>/openai/v1/<path>`` with the current upstream key."""

    def __init__(
        self,
        root: str,
        keys: UpstreamKeys,
        timeout: httpx.Timeout,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._keys = keys
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
    ) -> httpx.Response:
        """The upstream response with its body not yet read (the caller streams and closes it).

        An upstream 401 means the key was rotated or revoked since it was cached: read the
        secret again and retry once, so a rotation costs no client request.
        """
        response = await self._send_once(method, path, query, headers, body, fresh_key=False)
        if response.status_code == 401:
            await response.aclose()
            response = await self._send_once(method, path, query, headers, body, fresh_key=True)
        return response

    async def _send_once(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        fresh_key: bool,
    ) -> httpx.Response:
        key = await anyio.to_thread.run_sync(lambda: self._keys.active_key(force=fresh_key))
        request = self._client.build_request(
            method,
            path,
            params=httpx.QueryParams(query) if query else None,
            headers=request_headers(headers, key),
            content=body,
        )
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
