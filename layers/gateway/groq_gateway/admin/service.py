"""The admin API's operations on keys, teams and admin keys, each one audited.

Every change is one ``TransactWriteItems``: the record's own conditional write, the team's
live-key count when a key joins or leaves a team, and the audit entry. A change that meets a
concurrent one (its condition fails) is read again, checked again and retried a few times,
then answered with 409. Reads are consistent, so a change is checked against what is stored
now, not against a cache.

Methods are synchronous (boto3); the app runs them in worker threads. Errors are
:class:`GatewayError` with the HTTP status the API answers.

Example::

    service = AdminService(GatewayStore(table_name))
    caller = Caller(BOOTSTRAP_PRINCIPAL, source_ip="203.0.113.7")
    key, plaintext = service.create_key(CreateKeyRequest(name="chatbot-prod"), caller)
    service.revoke_key(key.key_id, caller)
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from groq_gateway.admin.schemas import (
    CreateAdminKeyRequest,
    CreateKeyRequest,
    CreateTeamRequest,
    UpdateKeyRequest,
    UpdateTeamRequest,
)
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.key_format import (
    ADMIN_KEY_PREFIX,
    GATEWAY_KEY_PREFIX,
    hash_secret,
    mint_key,
    parse_key,
)
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import (
    TEAM_ID_PATTERN,
    AdminKey,
    AdminKeyStatus,
    AdminRole,
    AuditAction,
    AuditEntry,
    AuditTarget,
    GatewayKey,
    KeyStatus,
    SecretVersion,
    Team,
)
from groq_gateway.core.views import (
    AdminKeyResponse,
    KeyResponse,
    TeamResponse,
)
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.paging import Page

# How often a change that met a concurrent one is read, checked and tried again.
MAX_ATTEMPTS = 3

_KEY_ID = re.compile(r"^[a-z0-9]{16}$")
_TEAM_ID = re.compile(TEAM_ID_PATTERN)
# A key's fields that its team bounds.
_TEAM_BOUNDED_FIELDS = (
    "allowed_models",
    "requests_per_minute",
    "tokens_per_minute",
    "monthly_budget_usd",
)


@dataclass(frozen=True)
class AdminPrincipal:
    """Who is calling: an admin key's id and name, and what it may do."""

    actor_id: str
    name: str
    role: AdminRole


BOOTSTRAP_PRINCIPAL = AdminPrincipal("bootstrap", "bootstrap-admin", AdminRole.FULL)


@dataclass(frozen=True)
class Caller:
    """The principal behind a request and the address it came from, for the audit log."""

    principal: AdminPrincipal
    source_ip: str | None


def not_found(kind: str, identifier: str) -> GatewayError:
    return GatewayError(404, f"No {kind} with id '{identifier}'.", code="not_found")


def unprocessable(message: str, param: str, code: str = "invalid_value") -> GatewayError:
    return GatewayError(422, message, code=code, param=param)


def concurrent_change(kind: str, identifier: str) -> GatewayError:
    return GatewayError(
        409,
        f"The {kind} '{identifier}' kept changing while this request tried to change it; "
        "nothing was changed. Read it again and retry.",
        code="conflict",
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


def check_aliases(team: Team) -> None:
    """An alias must lead to another model, and to one the team allows."""
    for alias, target in team.model_aliases.items():
        if alias == target:
            raise unprocessable(f"Alias '{alias}' points to itself.", param="model_aliases")
        if team.allowed_models is not None and target not in team.allowed_models:
            raise unprocessable(
                f"Alias '{alias}' leads to '{target}', which the team's allowed_models "
                "does not include, so every request through it would be refused.",
                param="model_aliases",
            )


def _apply_pause(values: dict[str, Any], changes: dict[str, Any]) -> None:
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


def _validated(model: type[Team] | type[GatewayKey], values: dict[str, Any]) -> Any:
    """The record with ``values``, or 422 naming the field it refuses."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or "body"
        raise unprocessable(f"Invalid value for '{param}': {first['msg']}", param=param) from None


def _view(record: BaseModel) -> dict[str, Any]:
    """A response model as the audit log stores it."""
    view: dict[str, Any] = record.model_dump(mode="json")
    return view


class AdminService:
    def __init__(self, store: GatewayStore, *, now: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = now

    # --------------------------------------------------------------------------------------
    # Authentication
    # --------------------------------------------------------------------------------------

    def admin_key_principal(self, token: str) -> AdminPrincipal | None:
        """The principal of an active admin key created through the API, else ``None``."""
        parsed = parse_key(token, ADMIN_KEY_PREFIX)
        if parsed is None:
            return None
        key = self.store.admin_keys.get(parsed.key_id)
        if key is None or key.status is not AdminKeyStatus.ACTIVE:
            return None
        presented = hash_secret(parsed.key_id, parsed.secret)
        if not hmac.compare_digest(presented, key.secret_hash):
            return None
        return AdminPrincipal(key.key_id, key.name, key.role)

    # --------------------------------------------------------------------------------------
    # Gateway keys
    # --------------------------------------------------------------------------------------

    def get_key(self, key_id: str) -> GatewayKey:
        key = self.store.keys.get(key_id) if _KEY_ID.fullmatch(key_id) else None
        if key is None:
            raise not_found("API key", key_id)
        return key

    def list_keys(
        self,
        *,
        team_id: str | None,
        status: KeyStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[GatewayKey]:
        return self.store.keys.list_page(team_id=team_id, status=status, limit=limit, cursor=cursor)

    def create_key(self, request: CreateKeyRequest, caller: Caller) -> tuple[GatewayKey, str]:
        """The new key and its plaintext (the only time it exists outside the caller)."""
        for _ in range(MAX_ATTEMPTS):
            now = self._now()
            self._check_expiry(request.expires_at, now)
            team = self._team_of_key(request.team)
            minted = mint_key(GATEWAY_KEY_PREFIX)
            key: GatewayKey = _validated(
                GatewayKey,
                dict(
                    key_id=minted.key_id,
                    name=request.name,
                    team_id=request.team,
                    description=request.description,
                    allowed_models=request.allowed_models,
                    requests_per_minute=request.requests_per_minute,
                    tokens_per_minute=request.tokens_per_minute,
                    monthly_budget_usd=request.monthly_budget_usd,
                    expires_at=request.expires_at,
                    allowed_endpoints=request.allowed_endpoints,
                    allowed_cidrs=request.allowed_cidrs,
                    rotation_period_days=request.rotation_period_days,
                    grace_period_hours=request.grace_period_hours,
                    quiet_period_hours=request.quiet_period_hours,
                    retire_deadline_hours=request.retire_deadline_hours,
                    deadline_warning_hours=request.deadline_warning_hours,
                    deliver_to_secret=request.deliver_to_secret,
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
                check_within_team(key, team, _TEAM_BOUNDED_FIELDS)
                changes.append(self.store.teams.key_joined(team))
            entry = self._key_entry(caller, AuditAction.API_KEY_CREATED, key.key_id, None, key, now)
            try:
                self.store.audit.commit(entry, changes)
            except ConditionFailedError:
                if team is None:
                    raise  # the new id was taken: 80 random bits, not expected to happen
                continue  # the team changed since it was read: check the key against it again
            return key, minted.plaintext
        raise concurrent_change("team", str(request.team))

    def update_key(self, key_id: str, request: UpdateKeyRequest, caller: Caller) -> GatewayKey:
        changes = request.changes()
        for _ in range(MAX_ATTEMPTS):
            now = self._now()
            key = self.get_key(key_id)
            if key.status is KeyStatus.REVOKED:
                raise GatewayError(
                    409, f"API key '{key_id}' is revoked and cannot change.", code="key_revoked"
                )
            values = self._key_values(key, changes, now)
            updated: GatewayKey = _validated(GatewayKey, values)
            if updated.model_copy(update={"updated_at": key.updated_at}) == key:
                return key  # nothing to change: no write, no audit entry
            if "expires_at" in changes:
                self._check_expiry(updated.expires_at, now)
            team_changed = updated.team_id != key.team_id
            team = self._team_of_key(updated.team_id)
            bounded = (
                _TEAM_BOUNDED_FIELDS
                if team_changed
                else [f for f in _TEAM_BOUNDED_FIELDS if f in changes]
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
            elif team is not None and bounded:
                # Checked against this version of the team: refused if it changed since.
                writes.append(self.store.teams.unchanged(team))
            entry = self._key_entry(caller, AuditAction.API_KEY_UPDATED, key_id, key, updated, now)
            try:
                self.store.audit.commit(entry, writes)
            except ConditionFailedError:
                continue
            return updated
        raise concurrent_change("API key", key_id)

    def revoke_key(self, key_id: str, caller: Caller) -> GatewayKey:
        """Revoke a key for good; revoking a revoked key changes nothing."""
        for _ in range(MAX_ATTEMPTS):
            now = self._now()
            key = self.get_key(key_id)
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
            entry = self._key_entry(caller, AuditAction.API_KEY_REVOKED, key_id, key, revoked, now)
            try:
                self.store.audit.commit(entry, writes)
            except ConditionFailedError:
                continue
            return revoked
        raise concurrent_change("API key", key_id)

    def _team_of_key(self, team_id: str | None) -> Team | None:
        if team_id is None:
            return None
        team = self.store.teams.get(team_id)
        if team is None:
            raise unprocessable(
                f"No team with id '{team_id}'; create it first.", param="team", code="unknown_team"
            )
        return team

    @staticmethod
    def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
        if expires_at is not None and expires_at <= now:
            raise unprocessable(
                "expires_at must be in the future; pause or revoke a key to stop it now.",
                param="expires_at",
            )

    @staticmethod
    def _key_values(key: GatewayKey, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
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
        _apply_pause(values, fields)
        values.update(fields)
        values["updated_at"] = now
        return values

    # --------------------------------------------------------------------------------------
    # Teams
    # --------------------------------------------------------------------------------------

    def get_team(self, team_id: str) -> Team:
        team = self.store.teams.get(team_id) if _TEAM_ID.fullmatch(team_id) else None
        if team is None:
            raise not_found("team", team_id)
        return team

    def list_teams(self, *, limit: int, cursor: str | None) -> Page[Team]:
        return self.store.teams.list_page(limit=limit, cursor=cursor)

    def create_team(self, request: CreateTeamRequest, caller: Caller) -> Team:
        now = self._now()
        team = Team(
            team_id=request.id,
            description=request.description,
            allowed_models=request.allowed_models,
            model_aliases=request.model_aliases,
            requests_per_minute=request.requests_per_minute,
            tokens_per_minute=request.tokens_per_minute,
            monthly_budget_usd=request.monthly_budget_usd,
            created_at=now,
            updated_at=now,
        )
        check_aliases(team)
        entry = self._team_entry(caller, AuditAction.TEAM_CREATED, team.team_id, None, team, now)
        try:
            self.store.audit.commit(entry, [self.store.teams.put_new(team)])
        except ConditionFailedError:
            raise GatewayError(
                409, f"Team '{team.team_id}' already exists.", code="conflict", param="id"
            ) from None
        return team

    def update_team(self, team_id: str, request: UpdateTeamRequest, caller: Caller) -> Team:
        changes = request.changes()
        for _ in range(MAX_ATTEMPTS):
            now = self._now()
            team = self.get_team(team_id)
            values = team.model_dump()
            fields = dict(changes)
            _apply_pause(values, fields)
            values.update(fields)
            updated: Team = _validated(Team, values)
            if updated == team:
                return team  # nothing to change: no write, no audit entry
            check_aliases(updated)
            updated = updated.model_copy(update={"updated_at": now, "version": team.version + 1})
            entry = self._team_entry(caller, AuditAction.TEAM_UPDATED, team_id, team, updated, now)
            try:
                self.store.audit.commit(entry, [self.store.teams.update(team, updated)])
            except ConditionFailedError:
                continue
            return updated
        raise concurrent_change("team", team_id)

    def delete_team(self, team_id: str, caller: Caller) -> None:
        """Delete a team no live key names (revoke its keys or move them first): 409 else."""
        for _ in range(MAX_ATTEMPTS):
            now = self._now()
            team = self.get_team(team_id)
            live_keys = self.store.teams.live_keys(team_id)
            if live_keys > 0:
                raise self._team_in_use(team_id, live_keys)
            entry = self._team_entry(caller, AuditAction.TEAM_DELETED, team_id, team, None, now)
            try:
                self.store.audit.commit(entry, [self.store.teams.delete(team)])
            except ConditionFailedError:
                continue  # changed, or a key joined it, since it was read: look again
            return
        raise concurrent_change("team", team_id)

    def _team_in_use(self, team_id: str, live_keys: int) -> GatewayError:
        page = self.store.keys.list_page(team_id=team_id, limit=20)
        names = [k.name for k in page.items if k.status is not KeyStatus.REVOKED][:5]
        listed = (
            f" ({', '.join(names)}{', ...' if live_keys > len(names) else ''})" if names else ""
        )
        return GatewayError(
            409,
            f"Team '{team_id}' still has {live_keys} key(s) that are not revoked{listed}; "
            "revoke them or move them to another team first.",
            code="team_has_keys",
        )

    # --------------------------------------------------------------------------------------
    # Admin keys
    # --------------------------------------------------------------------------------------

    def get_admin_key(self, key_id: str) -> AdminKey:
        key = self.store.admin_keys.get(key_id) if _KEY_ID.fullmatch(key_id) else None
        if key is None:
            raise not_found("admin key", key_id)
        return key

    def list_admin_keys(
        self, *, status: AdminKeyStatus | None, limit: int, cursor: str | None
    ) -> Page[AdminKey]:
        return self.store.admin_keys.list_page(status=status, limit=limit, cursor=cursor)

    def create_admin_key(
        self, request: CreateAdminKeyRequest, caller: Caller
    ) -> tuple[AdminKey, str]:
        """The new admin key and its plaintext (shown once)."""
        now = self._now()
        minted = mint_key(ADMIN_KEY_PREFIX)
        key = AdminKey(
            key_id=minted.key_id,
            name=request.name,
            role=request.role,
            description=request.description,
            secret_hash=minted.secret_hash,
            display_prefix=minted.display_prefix,
            created_by=caller.principal.actor_id,
            created_at=now,
            updated_at=now,
        )
        entry = self._admin_key_entry(caller, AuditAction.ADMIN_KEY_CREATED, None, key, now)
        self.store.audit.commit(entry, [self.store.admin_keys.put_new(key)])
        return key, minted.plaintext

    def revoke_admin_key(self, key_id: str, caller: Caller) -> AdminKey:
        """Revoke an admin key; it stops working at once. Revoking twice changes nothing."""
        for _ in range(MAX_ATTEMPTS):
            now = self._now()
            key = self.get_admin_key(key_id)
            if key.status is AdminKeyStatus.REVOKED:
                return key
            revoked = key.model_copy(
                update={
                    "status": AdminKeyStatus.REVOKED,
                    "updated_at": now,
                    "version": key.version + 1,
                }
            )
            entry = self._admin_key_entry(caller, AuditAction.ADMIN_KEY_REVOKED, key, revoked, now)
            try:
                self.store.audit.commit(entry, [self.store.admin_keys.update(key, revoked)])
            except ConditionFailedError:
                continue
            return revoked
        raise concurrent_change("admin key", key_id)

    # --------------------------------------------------------------------------------------
    # Audit log
    # --------------------------------------------------------------------------------------

    def audit_log(
        self,
        *,
        first_day: date,
        last_day: date,
        actor_id: str | None,
        action: AuditAction | None,
        target_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditEntry]:
        if first_day > last_day:
            raise GatewayError(
                400, "start must not be after end.", code="invalid_value", param="start"
            )
        return self.store.audit.list_page(
            first_day=first_day,
            last_day=last_day,
            actor_id=actor_id,
            action=None if action is None else action.value,
            target_id=target_id,
            limit=limit,
            cursor=cursor,
        )

    def _key_entry(
        self,
        caller: Caller,
        action: AuditAction,
        key_id: str,
        before: GatewayKey | None,
        after: GatewayKey | None,
        at: datetime,
    ) -> AuditEntry:
        return self._audit(
            caller,
            action,
            AuditTarget.API_KEY,
            key_id,
            None if before is None else KeyResponse.of(before),
            None if after is None else KeyResponse.of(after),
            at,
        )

    def _team_entry(
        self,
        caller: Caller,
        action: AuditAction,
        team_id: str,
        before: Team | None,
        after: Team | None,
        at: datetime,
    ) -> AuditEntry:
        return self._audit(
            caller,
            action,
            AuditTarget.TEAM,
            team_id,
            None if before is None else TeamResponse.of(before),
            None if after is None else TeamResponse.of(after),
            at,
        )

    def _admin_key_entry(
        self,
        caller: Caller,
        action: AuditAction,
        before: AdminKey | None,
        after: AdminKey | None,
        at: datetime,
    ) -> AuditEntry:
        target = after or before
        assert target is not None
        return self._audit(
            caller,
            action,
            AuditTarget.ADMIN_KEY,
            target.key_id,
            None if before is None else AdminKeyResponse.of(before),
            None if after is None else AdminKeyResponse.of(after),
            at,
        )

    @staticmethod
    def _audit(
        caller: Caller,
        action: AuditAction,
        target_type: AuditTarget,
        target_id: str,
        before: BaseModel | None,
        after: BaseModel | None,
        at: datetime,
    ) -> AuditEntry:
        return AuditEntry.new(
            actor_id=caller.principal.actor_id,
            actor_name=caller.principal.name,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=None if before is None else _view(before),
            after=None if after is None else _view(after),
            source_ip=caller.source_ip,
            at=at,
        )
