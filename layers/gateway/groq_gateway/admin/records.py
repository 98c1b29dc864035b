"""The admin side's own records: admin keys and audit log entries, as the store keeps them.

They sit next to the admin API rather than in :mod:`groq_gateway.models` because only the
admin API and its store repositories use them; the proxy never sees either.

Example::

    entry = AuditEntry.new(
        actor_id="bootstrap",
        actor_name="bootstrap-admin",
        action=AuditAction.TEAM_CREATED,
        target_type=AuditTarget.TEAM,
        target_id="chatbot",
        before=None,
        after={"id": "chatbot"},
        source_ip="203.0.113.7",
        at=utcnow(),
    )
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class AdminRole(StrEnum):
    """What an admin key may do: ``read_only`` may only read (GET), ``full`` may change."""

    READ_ONLY = "read_only"
    FULL = "full"


class AdminKeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class AdminKey(BaseModel):
    """A named admin key created through the API (the bootstrap key lives in a secret).

    Like a gateway key, only ``sha256("<key id>:<secret>")`` is stored.
    """

    model_config = ConfigDict(frozen=True)

    key_id: str
    name: str
    role: AdminRole
    description: str = ""
    status: AdminKeyStatus = AdminKeyStatus.ACTIVE
    secret_hash: str
    display_prefix: str
    # The actor id of the admin who created it.
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int = 1


class AuditAction(StrEnum):
    """Every change to a record, by the admin API or the gateway itself (a rotation, a
    budget pause); one audit entry per change."""

    API_KEY_CREATED = "api_key.created"
    API_KEY_UPDATED = "api_key.updated"
    API_KEY_REVOKED = "api_key.revoked"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_SECRET_RETIRED = "api_key.secret_retired"  # noqa: S105 - an action name
    TEAM_CREATED = "team.created"
    TEAM_UPDATED = "team.updated"
    TEAM_DELETED = "team.deleted"
    ADMIN_KEY_CREATED = "admin_key.created"
    ADMIN_KEY_REVOKED = "admin_key.revoked"


class AuditTarget(StrEnum):
    API_KEY = "api_key"
    TEAM = "team"
    ADMIN_KEY = "admin_key"


class AuditEntry(BaseModel):
    """Who changed what, when and from where, with the record before and after.

    ``before`` and ``after`` are the records as the admin API shows them: never a plaintext
    key, never a hash.
    """

    model_config = ConfigDict(frozen=True)

    entry_id: str
    at: datetime
    actor_id: str
    actor_name: str
    action: AuditAction
    target_type: AuditTarget
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    source_ip: str | None = None

    @classmethod
    def new(
        cls,
        *,
        actor_id: str,
        actor_name: str,
        action: AuditAction,
        target_type: AuditTarget,
        target_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        source_ip: str | None,
        at: datetime,
    ) -> AuditEntry:
        """An entry with a fresh random id."""
        return cls(
            entry_id=uuid.uuid4().hex,
            at=at,
            actor_id=actor_id,
            actor_name=actor_name,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            source_ip=source_ip,
        )
