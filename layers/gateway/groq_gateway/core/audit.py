"""The one builder of audit entries: who changed which record, from what to what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from groq_gateway.core.pricing import OperatorPrice
from groq_gateway.core.records import (
    AdminKey,
    AuditAction,
    AuditEntry,
    AuditTarget,
    GatewayKey,
    IamPrincipalRole,
    Team,
)
from groq_gateway.core.views import AdminKeyResponse, KeyResponse, TeamResponse

Audited = GatewayKey | Team | AdminKey | OperatorPrice | IamPrincipalRole


@dataclass(frozen=True)
class Actor:
    """Who an audit entry names: an admin, or the gateway's own functions."""

    actor_id: str
    name: str
    source_ip: str | None = None


def _target(record: Audited) -> tuple[AuditTarget, str]:
    if isinstance(record, GatewayKey):
        return AuditTarget.API_KEY, record.key_id
    if isinstance(record, Team):
        return AuditTarget.TEAM, record.team_id
    if isinstance(record, OperatorPrice):
        return AuditTarget.PRICE, record.model
    if isinstance(record, IamPrincipalRole):
        return AuditTarget.IAM_PRINCIPAL, record.arn
    return AuditTarget.ADMIN_KEY, record.key_id


def _view(record: Audited | None) -> dict[str, Any] | None:
    """The record as the admin API shows it."""
    if record is None:
        return None
    if isinstance(record, OperatorPrice):
        return record.model_dump(mode="json", exclude_none=True)
    if isinstance(record, IamPrincipalRole):
        return record.model_dump(mode="json", exclude={"version"})
    view: KeyResponse | TeamResponse | AdminKeyResponse
    if isinstance(record, GatewayKey):
        view = KeyResponse.of(record)
    elif isinstance(record, Team):
        view = TeamResponse.of(record)
    else:
        view = AdminKeyResponse.of(record)
    shown: dict[str, Any] = view.model_dump(mode="json")
    return shown


def audit_entry(
    actor: Actor,
    action: AuditAction,
    *,
    before: Audited | None,
    after: Audited | None,
    at: datetime,
) -> AuditEntry:
    """An entry for a change of one record; ``before`` is None for a creation, ``after`` for a
    deletion.

    Example::

        audit_entry(Actor("bootstrap", "bootstrap-admin"), AuditAction.TEAM_CREATED,
                    before=None, after=team, at=utcnow())
    """
    target = after if after is not None else before
    assert target is not None, "an audit entry needs the record before or after the change"
    target_type, target_id = _target(target)
    return AuditEntry.new(
        actor_id=actor.actor_id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=_view(before),
        after=_view(after),
        source_ip=actor.source_ip,
        at=at,
    )
