"""The admin API over HTTP, for the command line: one call per method, errors as one line.

Example::

    client = AdminClient("http://127.0.0.1:3000", admin_key)
    key = client.post("/openai/v1/api-keys", {"name": "chatbot-prod"})
    for team in client.list_all("/openai/v1/teams"):
        print(team["id"])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

TIMEOUT_SECONDS = 30.0


class CliError(Exception):
    """What went wrong, in one line for stderr; ``exit_code`` for the shell."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(CliError):
    """The gateway answered with an error (OpenAI format)."""

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def path_id(identifier: str) -> str:
    """An id as one path segment, whatever it holds."""
    return quote(identifier, safe="")


def api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        message, code = str(error["message"]), error.get("code")
    except (ValueError, KeyError, TypeError):
        message, code = (response.text.strip()[:200] or response.reason_phrase), None
    detail = f"HTTP {response.status_code}" + (f", {code}" if code else "")
    return ApiError(f"{message} ({detail})", response.status_code, code)


class AdminClient:
    def __init__(
        self,
        base_url: str,
        admin_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        # The host root (or API Gateway's stage URL); a trailing /openai/v1 is tolerated.
        root = base_url.rstrip("/").removesuffix("/openai/v1")
        self.base_url = root
        self._http = httpx.Client(
            base_url=root,
            headers={"authorization": f"Bearer {admin_key}", "accept": "application/json"},
            transport=transport,
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """The answer's JSON; :class:`ApiError` for an error answer, :class:`CliError` when
        the gateway cannot be reached."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=body)
        except httpx.TimeoutException:
            raise CliError(
                f"the gateway at {self.base_url} did not answer within {TIMEOUT_SECONDS:.0f} s"
            ) from None
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach the gateway at {self.base_url}: {error}") from None
        if response.status_code >= 400:
            raise api_error(response)
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"the gateway at {self.base_url} answered {method} {path} with something "
                f"that is not JSON (HTTP {response.status_code}); is --url right?"
            ) from None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def list_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a paginated list, following ``next_cursor``."""
        cursor = None
        while True:
            page = self.get(path, {**(params or {}), "limit": 100, "after": cursor})
            yield from page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
