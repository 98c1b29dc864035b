"""Admin keys: read, list, create and revoke, each change audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from groq_gateway.admin.schemas import CreateAdminKeyRequest
from groq_gateway.admin.services.common import is_key_id, retry_or_conflict
from groq_gateway.admin.services.team_grants import granted_teams_unchanged
from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.errors import no_such_record
from groq_gateway.core.key_format import ADMIN_KEY_PREFIX, mint_key
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import AdminKey, AdminKeyStatus, AuditAction
from groq_gateway.store import GatewayStore
from groq_gateway.store.paging import Page


class AdminKeyService:
    def __init__(self, store: GatewayStore, *, now: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = now

    def get(self, key_id: str) -> AdminKey:
        key = self.store.admin_keys.get(key_id) if is_key_id(key_id) else None
        if key is None:
            raise no_such_record("admin key", key_id)
        return key

    def list_page(
        self, *, status: AdminKeyStatus | None, limit: int, cursor: str | None
    ) -> Page[AdminKey]:
        return self.store.admin_keys.list_page(status=status, limit=limit, cursor=cursor)

    def create(self, request: CreateAdminKeyRequest, actor: Actor) -> tuple[AdminKey, str]:
        """The new admin key and its plaintext (shown once). A team role's teams must exist
        (422 ``unknown_team``), and still exist as read when the key is written."""

        def attempt() -> tuple[AdminKey, str]:
            now = self._now()
            team_checks = granted_teams_unchanged(self.store, request.teams)
            minted = mint_key(ADMIN_KEY_PREFIX)
            key = AdminKey(
                key_id=minted.key_id,
                name=request.name,
                role=request.role,
                teams=request.teams,
                description=request.description,
                secret_hash=minted.secret_hash,
                display_prefix=minted.display_prefix,
                created_by=actor.actor_id,
                created_at=now,
                updated_at=now,
            )
            entry = audit_entry(
                actor, AuditAction.ADMIN_KEY_CREATED, before=None, after=key, at=now
            )
            self.store.audit.commit(entry, [self.store.admin_keys.put_new(key), *team_checks])
            return key, minted.plaintext

        return retry_or_conflict(attempt, "team", ", ".join(request.teams or ()))

    def revoke(self, key_id: str, actor: Actor) -> AdminKey:
        """Revoke an admin key; it stops working at once. Revoking twice changes nothing."""

        def attempt() -> AdminKey:
            key = self.get(key_id)
            now = self._now()
            if key.status is AdminKeyStatus.REVOKED:
                return key
            revoked = key.model_copy(
                update={
                    "status": AdminKeyStatus.REVOKED,
                    "updated_at": now,
                    "version": key.version + 1,
                }
            )
            entry = audit_entry(
                actor, AuditAction.ADMIN_KEY_REVOKED, before=key, after=revoked, at=now
            )
            self.store.audit.commit(entry, [self.store.admin_keys.update(key, revoked)])
            return revoked

        return retry_or_conflict(attempt, "admin key", key_id)
