"""Gateway keys: read, list, create, change and revoke, each change audited and checked
against the key's team. See docs/architecture.md."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from groq_gateway.admin.authorization import check_key_team
from groq_gateway.admin.errors import unprocessable
from groq_gateway.admin.schemas import CreateKeyRequest, UpdateKeyRequest
from groq_gateway.admin.services.common import (
    apply_pause,
    is_key_id,
    retry_or_conflict,
    validated,
)
from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.errors import GatewayError, no_such_record
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.periods import month_of, utcnow
from groq_gateway.core.records import (
    AdminRole,
    AuditAction,
    GatewayKey,
    KeyStatus,
    SecretVersion,
    Team,
)
from groq_gateway.store import GatewayStore
from groq_gateway.store.paging import Page

# A key's fields that its team bounds.
TEAM_BOUNDED_FIELDS = (
    "allowed_models",
    "requests_per_minute",
    "tokens_per_minute",
    "monthly_budget_usd",
)


def check_within_team(key: GatewayKey, team: Team, fields: Iterable[str]) -> None:
    """422 naming the first of ``fields`` in which the key would exceed its team."""
    for field in fields:
        if field == "allowed_models":
            if team.allowed_models is None or key.allowed_models is None:
                continue
            outside = [m for m in key.allowed_models if m not in team.allowed_models]
            if outside:
                allowed = ", ".join(team.allowed_models) or "none"
                raise unprocessable(
                    f"Team '{team.team_id}' does not allow {', '.join(outside)}; a key's "
                    f"models must be among its team's ({allowed}).",
                    param=field,
                    code="exceeds_team",
                )
            continue
        team_limit, key_limit = getattr(team, field), getattr(key, field)
        if team_limit is not None and key_limit is not None and key_limit > team_limit:
            raise unprocessable(
                f"{field} {key_limit} is above team '{team.team_id}' ({team_limit}); a key's "
                "limits cannot exceed its team's.",
                param=field,
                code="exceeds_team",
            )


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise unprocessable(
            "expires_at must be in the future; pause or revoke a key to stop it now.",
            param="expires_at",
        )


def changed_values(key: GatewayKey, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The key's fields with ``changes`` applied (``team`` is the record's ``team_id``)."""
    values = key.model_dump()
    fields = dict(changes)
    if "team" in fields:
        fields["team_id"] = fields.pop("team")
    if fields.get("status") == KeyStatus.ACTIVE:
        expires_at = fields.get("expires_at", key.expires_at)
        if expires_at is not None and expires_at <= now:
            raise unprocessable(
                f"The key expired at {expires_at.isoformat()}; give it a later expires_at "
                "to make it active again.",
                param="status",
            )
    apply_pause(values, fields)
    values.update(fields)
    values["updated_at"] = now
    return values


class ApiKeyService:
    def __init__(
        self,
        store: GatewayStore,
        *,
        now: Callable[[], datetime] = utcnow,
        billing_tz: tzinfo = UTC,
    ) -> None:
        self.store = store
        self._now = now
        self._billing_tz = billing_tz

    def get(self, key_id: str) -> GatewayKey:
        key = self.store.keys.get(key_id) if is_key_id(key_id) else None
        if key is None:
            raise no_such_record("API key", key_id)
        return key

    def list_page(
        self,
        *,
        team_id: str | None,
        status: KeyStatus | None,
        limit: int,
        cursor: str | None,
        team_ids: Collection[str] | None = None,
    ) -> Page[GatewayKey]:
        """Keys, newest first: ``team_id``'s, or (``team_ids``) only those of these teams."""
        return self.store.keys.list_page(
            team_id=team_id, team_ids=team_ids, status=status, limit=limit, cursor=cursor
        )

    def create(self, request: CreateKeyRequest, actor: Actor) -> tuple[GatewayKey, str]:
        """The new key and its plaintext (the only time it exists outside the caller)."""

        def attempt() -> tuple[GatewayKey, str]:
            now = self._now()
            check_expiry(request.expires_at, now)
            team = self._team_of_key(request.team)
            minted = mint_key(GATEWAY_KEY_PREFIX)
            settings = request.model_dump(exclude={"team"})
            key = validated(
                GatewayKey,
                dict(
                    settings,
                    key_id=minted.key_id,
                    team_id=request.team,
                    created_at=now,
                    updated_at=now,
                    secrets=[
                        SecretVersion(
                            secret_hash=minted.secret_hash,
                            display_prefix=minted.display_prefix,
                            created_at=now,
                        )
                    ],
                ),
            )
            changes = [self.store.keys.put_new(key)]
            if team is not None:
                check_within_team(key, team, TEAM_BOUNDED_FIELDS)
                changes.append(self.store.teams.key_joined(team))
            entry = audit_entry(actor, AuditAction.API_KEY_CREATED, before=None, after=key, at=now)
            self.store.audit.commit(entry, changes)
            return key, minted.plaintext

        if request.team is None:
            # Nothing was read that could change; a taken id (80 random bits) is not retried.
            return attempt()
        # The team changed since it was read: check the key against it again.
        return retry_or_conflict(attempt, "team", request.team)

    def update(
        self,
        key_id: str,
        request: UpdateKeyRequest,
        actor: Actor,
        *,
        within: frozenset[str] | None = None,
    ) -> GatewayKey:
        """Change a key; ``within``: a team-scoped caller's teams, which the key must still be
        in when it is written (it may have moved since its route's rule was checked)."""
        changes = request.changes()

        def attempt() -> GatewayKey:
            key = self._get_within(key_id, within)
            now = self._now()
            if key.status is KeyStatus.REVOKED:
                raise GatewayError(
                    409, f"API key '{key_id}' is revoked and cannot change.", code="key_revoked"
                )
            updated = validated(GatewayKey, changed_values(key, changes, now))
            if updated.model_copy(update={"updated_at": key.updated_at}) == key:
                return key  # nothing to change: no write, no audit entry
            if "expires_at" in changes:
                check_expiry(updated.expires_at, now)
            team_changed = updated.team_id != key.team_id
            team = self._team_of_key(updated.team_id)
            bounded = (
                TEAM_BOUNDED_FIELDS
                if team_changed
                else tuple(f for f in TEAM_BOUNDED_FIELDS if f in changes)
            )
            if team is not None:
                check_within_team(updated, team, bounded)
            updated = updated.model_copy(update={"version": key.version + 1})
            writes = [self.store.keys.update(key, updated)]
            if team_changed:
                if key.team_id is not None and self.store.teams.get(key.team_id) is not None:
                    writes.append(self.store.teams.key_left(key.team_id))
                if team is not None:
                    writes.append(self.store.teams.key_joined(team))
                # Its counters are kept with its team's: its month goes with it.
                month = month_of(now, self._billing_tz)
                carried = self.store.counters.key_moved(
                    key.key_id, key.team_id, updated.team_id, month
                )
                if carried is not None:
                    writes.append({"Update": carried})
            elif team is not None and bounded:
                # Checked against this version of the team: refused if it changed since.
                writes.append(self.store.teams.unchanged(team))
            entry = audit_entry(
                actor, AuditAction.API_KEY_UPDATED, before=key, after=updated, at=now
            )
            self.store.audit.commit(entry, writes)
            return updated

        return retry_or_conflict(attempt, "API key", key_id)

    def revoke(
        self, key_id: str, actor: Actor, *, within: frozenset[str] | None = None
    ) -> GatewayKey:
        """Revoke a key for good; revoking a revoked key changes nothing. ``within``: as for
        :meth:`update`."""

        def attempt() -> GatewayKey:
            key = self._get_within(key_id, within)
            now = self._now()
            if key.status is KeyStatus.REVOKED:
                return key
            revoked = key.model_copy(
                update={
                    "status": KeyStatus.REVOKED,
                    "paused_reason": None,
                    "updated_at": now,
                    "version": key.version + 1,
                }
            )
            writes = [self.store.keys.update(key, revoked)]
            if key.team_id is not None and self.store.teams.get(key.team_id) is not None:
                writes.append(self.store.teams.key_left(key.team_id))
            entry = audit_entry(
                actor, AuditAction.API_KEY_REVOKED, before=key, after=revoked, at=now
            )
            self.store.audit.commit(entry, writes)
            return revoked

        return retry_or_conflict(attempt, "API key", key_id)

    def _get_within(self, key_id: str, teams: frozenset[str] | None) -> GatewayKey:
        key = self.get(key_id)
        if teams is not None:
            check_key_team(key.key_id, key.team_id, AdminRole.TEAM_ADMIN, teams)
        return key

    def _team_of_key(self, team_id: str | None) -> Team | None:
        if team_id is None:
            return None
        team = self.store.teams.get(team_id)
        if team is None:
            raise unprocessable(
                f"No team with id '{team_id}'; create it first.", param="team", code="unknown_team"
            )
        return team
