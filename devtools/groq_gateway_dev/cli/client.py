"""The admin API over HTTP for the command line, with an admin key (:class:`AdminKeyAuth`) or
SigV4 (:class:`IamAuth`, ``/iam`` routes); credentials only ever go into request headers.

Example::

    client = AdminClient("http://127.0.0.1:3000", AdminKeyAuth(admin_key))
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session

TIMEOUT_SECONDS = 30.0
# API Gateway's service name in SigV4 credential scopes.
SIGV4_SERVICE = "execute-api"
# The headers IamAuth adds to a request: the signature, its date and a session token.
SIGV4_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token")


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


def with_query(path: str, query: dict[str, Any]) -> str:
    """``path?query`` with every value percent-encoded as SigV4 canonicalises it (``%20``, not
    ``+``), so that what is sent is what was signed, for API Gateway as for any server.

    Example::

        with_query("/openai/v1/api-keys", {"team": "a b"})  # '/openai/v1/api-keys?team=a%20b'
    """
    if not query:
        return path
    return f"{path}?{urlencode(query, quote_via=quote, safe='-_.~')}"


def api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        message, code = str(error["message"]), error.get("code")
    except (ValueError, KeyError, TypeError):
        message, code = (response.text.strip()[:200] or response.reason_phrase), None
    detail = f"HTTP {response.status_code}" + (f", {code}" if code else "")
    return ApiError(f"{message} ({detail})", response.status_code, code)


class AdminKeyAuth(httpx.Auth):
    """``Authorization: Bearer <admin key>``, for the admin routes under ``/openai/v1``."""

    path_prefix = ""

    def __init__(self, admin_key: str) -> None:
        self._authorization = f"Bearer {admin_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["authorization"] = self._authorization
        yield request


class IamAuth(httpx.Auth):
    """A SigV4 signature (service ``execute-api``) for the admin routes' IAM copies under
    ``/iam/openai/v1``, made with botocore from AWS credentials (refreshed as they expire).

    Signed: the method, path, query, ``host``, ``content-type`` (when there is a body) and the
    body; botocore adds ``x-amz-date`` and, for temporary credentials, ``x-amz-security-token``.

    Example::

        auth = IamAuth.from_aws_chain(region="eu-west-1")
        httpx.get(f"{stage_url}/iam/openai/v1/teams", auth=auth)
    """

    path_prefix = "/iam"
    requires_request_body = True

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._credentials = credentials
        self.region = region

    @classmethod
    def from_aws_chain(cls, region: str | None) -> IamAuth:
        """Credentials from the usual AWS chain (environment, shared files and profiles, SSO,
        container or instance role); the region from ``region``, else ``$AWS_REGION``, else
        the AWS configuration (``$AWS_DEFAULT_REGION``, the profile). :class:`CliError` (exit
        code 2) when either is missing."""
        session = Session()
        region = region or os.environ.get("AWS_REGION") or session.get_config_variable("region")
        if not region:
            raise CliError(
                "give the gateway's AWS region with --region (or $AWS_REGION or an AWS profile)",
                exit_code=2,
            )
        credentials = session.get_credentials()
        if credentials is None:
            raise CliError(
                "--sigv4 found no AWS credentials (environment, ~/.aws, SSO, container or "
                "instance role)",
                exit_code=2,
            )
        return cls(credentials, region)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers = {"host": request.headers["host"]}
        if request.content and "content-type" in request.headers:
            headers["content-type"] = request.headers["content-type"]
        signed = AWSRequest(
            method=request.method, url=str(request.url), headers=headers, data=request.content
        )
        frozen = self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, SIGV4_SERVICE, self.region).add_auth(signed)
        for name in SIGV4_HEADERS:
            value = signed.headers.get(name)
            if value is not None:
                request.headers[name] = value
        yield request


AdminAuth = AdminKeyAuth | IamAuth


class AdminClient:
    def __init__(
        self,
        base_url: str,
        auth: AdminAuth,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        # The host root (or API Gateway's stage URL); a trailing /openai/v1 is tolerated.
        root = base_url.rstrip("/").removesuffix("/openai/v1")
        self.base_url = root
        self._http = httpx.Client(
            # Requests go to <root><prefix>/openai/v1/...: the prefix picks the way in.
            base_url=root + auth.path_prefix,
            auth=auth,
            headers={"accept": "application/json"},
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
            response = self._http.request(method, with_query(path, query), json=body)
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
