"""What the admin services share: the key id format, the pause fields of a change, a change
validated as the stored record, and retries when a change met a concurrent one."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from groq_gateway.admin.errors import concurrent_change, unprocessable
from groq_gateway.core.key_format import KEY_ID_LENGTH
from groq_gateway.store.optimistic import KeptChangingError, retry_on_conflict

T = TypeVar("T")
Record = TypeVar("Record", bound=BaseModel)

_KEY_ID = re.compile(rf"^[a-z0-9]{{{KEY_ID_LENGTH}}}$")


def is_key_id(value: str) -> bool:
    """Whether ``value`` can be a gateway or admin key's id (checked before any read)."""
    return _KEY_ID.fullmatch(value) is not None


def apply_pause(values: dict[str, Any], changes: dict[str, Any]) -> None:
    """Move ``status`` and ``paused_reason`` from a key's or team's ``changes`` into its
    ``values``: pausing records why, resuming forgets it."""
    status = changes.pop("status", None)
    reason = changes.pop("paused_reason", None)
    if reason is not None and status != "paused":
        raise unprocessable("paused_reason goes with status 'paused'.", param="paused_reason")
    if status == "paused":
        values["status"] = status
        values["paused_reason"] = reason or "paused by an administrator"
    elif status == "active":
        values["status"] = status
        values["paused_reason"] = None


def validated(model: type[Record], values: dict[str, Any]) -> Record:
    """The record with ``values``, or 422 naming the field it refuses."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or "body"
        raise unprocessable(f"Invalid value for '{param}': {first['msg']}", param=param) from None


def retry_or_conflict(attempt: Callable[[], T], kind: str, identifier: str) -> T:
    """Run ``attempt`` (it reads, checks and writes) again while it meets a concurrent change;
    409 when every attempt met one. An attempt takes its time (``now``) after its reads, so
    that the audit entries of one record sort in the order their changes committed."""
    try:
        return retry_on_conflict(attempt)
    except KeptChangingError:
        raise concurrent_change(kind, identifier) from None
