"""Errors in OpenAI's format (``{"error": {"message", "type", "code", "param"}}``), which the
``openai`` and ``groq`` SDKs map to their own exception classes, and their constructors.

Example::

    raise GatewayError(401, "Invalid API Key", code="invalid_api_key")
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """An error answered to the client in OpenAI's error format."""

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
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body: OpenAI's ``{"error": {...}}`` envelope."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid_api_key() -> GatewayError:
    """401 for a missing, unknown, revoked or expired key (the same answer for each)."""
    return GatewayError(401, "Invalid API Key", code="invalid_api_key")


def unknown_url(method: str, path: str, *, status: int = 404) -> GatewayError:
    """404 (or 405: ``method_not_allowed``) for a route the gateway does not serve."""
    code = "method_not_allowed" if status == 405 else "unknown_url"
    return GatewayError(status, f"Unknown request URL: {method} {path}.", code=code)


def service_unavailable(message: str, *, code: str | None = "service_unavailable") -> GatewayError:
    return GatewayError(503, message, type="service_unavailable", code=code)


def no_such_record(kind: str, identifier: str) -> GatewayError:
    """404 for an id that names no record of its kind (``kind``: "API key", "team", ...)."""
    return GatewayError(404, f"No {kind} with id '{identifier}'.", code="not_found")
