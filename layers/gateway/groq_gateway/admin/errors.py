"""The admin API's errors: how OpenAPI documents them, how they are built, and the answers
to exceptions raised below the routes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response
from starlette.types import HTTPExceptionHandler

from groq_gateway.admin.schemas import ErrorResponse
from groq_gateway.core.errors import GatewayError, no_such_record, service_unavailable
from groq_gateway.core.observability import logger
from groq_gateway.core.web import EXCEPTION_HANDLERS, INTERNAL_ERROR, error_response
from groq_gateway.secret_rotation import (
    DeliveryFailedError,
    NoSuchKeyError,
    RotationError,
    RotationRefusedError,
)
from groq_gateway.secrets_manager import SecretNotConfiguredError, SecretUnavailableError
from groq_gateway.store import StoreUnavailableError
from groq_gateway.store.optimistic import KeptChangingError
from groq_gateway.store.paging import InvalidCursorError
from groq_gateway.store.table import StoreRefusedError


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# On every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Invalid request; `param` names the field."),
    401: _documented("Missing, unknown or revoked admin key; under /iam/, no IAM identity."),
    403: _documented(
        "The caller's role may not do this (`insufficient_permissions`; the message names "
        "the role or team missing), or an IAM principal without a role."
    ),
    422: _documented(
        "Valid JSON that the gateway cannot apply (`param` says why), or a record too large "
        "to store (`record_too_large`)."
    ),
    503: _documented("The store or the admin key secret is unavailable; nothing was changed."),
}
# On every route that changes something.
WRITE: dict[int | str, dict[str, Any]] = {
    403: _documented(
        "The caller's role may not do this (`insufficient_permissions`; the message names "
        "the role or team missing)."
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _documented("No such record.")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _documented("Conflicts with the record's current state.")
}


def unprocessable(message: str, param: str, code: str = "invalid_value") -> GatewayError:
    return GatewayError(422, message, code=code, param=param)


def concurrent_change(kind: str, identifier: str) -> GatewayError:
    return GatewayError(
        409,
        f"The {kind} '{identifier}' kept changing while this request tried to change it; "
        "nothing was changed. Read it again and retry.",
        code="conflict",
    )


def bootstrap_key_unavailable(error: SecretUnavailableError) -> GatewayError:
    """503 when the bootstrap admin key's secret cannot be read or holds no key."""
    if isinstance(error, SecretNotConfiguredError):
        return service_unavailable("No admin key is configured.", code=None)
    return service_unavailable("The gateway cannot read its admin key.")


def rotation_failed(key_id: str, error: RotationError | KeptChangingError) -> GatewayError:
    """The answer to a rotation of ``key_id`` that did not happen."""
    if isinstance(error, NoSuchKeyError):
        return no_such_record("API key", key_id)
    if isinstance(error, RotationRefusedError):
        return GatewayError(409, error.message, code=error.code)
    if isinstance(error, DeliveryFailedError):
        return GatewayError(502, str(error), type="api_error", code="delivery_failed")
    return GatewayError(
        409, f"API key '{key_id}' kept changing; try again.", code="concurrent_change"
    )


def validation_error(request: Request, exc: Exception) -> Response:
    """A 400 in OpenAI's format naming the first offending field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return error_response(
            GatewayError(400, "The request body is not valid JSON.", code="invalid_json")
        )
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    detail = str(first.get("msg", "Invalid request.")).removeprefix("Value error, ")
    if param is None and first.get("type") == "missing":
        detail = "The request needs a JSON body."
    message = f"Invalid value for '{param}': {detail}" if param else detail
    return error_response(GatewayError(400, message, code="invalid_value", param=param))


def answering(error: GatewayError) -> HTTPExceptionHandler:
    """An exception handler that answers ``error`` whatever the exception says."""

    def handler(request: Request, exc: Exception) -> Response:
        return error_response(error)

    return handler


STORE_UNAVAILABLE = GatewayError(
    503,
    "The gateway's store is unavailable; nothing was changed.",
    type="service_unavailable",
    code="service_unavailable",
)
RECORD_TOO_LARGE = GatewayError(
    422,
    "The record is too large to store (DynamoDB keeps items of at most 400 KB, the audit "
    "entry holding the record twice); shorten its lists or texts. Nothing was changed.",
    code="record_too_large",
)


def store_refused(request: Request, exc: Exception) -> Response:
    """A record over DynamoDB's item limit is the caller's (422); any other refusal is a
    request the gateway should not have made: its 500."""
    assert isinstance(exc, StoreRefusedError)
    if exc.too_large:
        return error_response(RECORD_TOO_LARGE)
    logger.error("store refused a request", extra={"error": str(exc)})
    return error_response(INTERNAL_ERROR)


INVALID_CURSOR = GatewayError(
    400,
    "Invalid value for 'after': not a cursor from this list's next_cursor.",
    code="invalid_value",
    param="after",
)

ADMIN_EXCEPTION_HANDLERS: dict[type[Exception], HTTPExceptionHandler] = {
    **EXCEPTION_HANDLERS,
    RequestValidationError: validation_error,
    StoreUnavailableError: answering(STORE_UNAVAILABLE),
    StoreRefusedError: store_refused,
    InvalidCursorError: answering(INVALID_CURSOR),
}
