"""Rotating gateway keys' secrets and retiring the replaced ones: shared by the admin API's
rotate route and the rotation function. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.events import RotationDeadlineEvent, SecretRetiredEvent
from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, MintedKey, mint_key
from groq_gateway.core.observability import logger
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import AuditAction, GatewayKey, KeyStatus, SecretVersion
from groq_gateway.core.settings import Settings
from groq_gateway.secrets_manager import deliver_key
from groq_gateway.store import ConditionFailedError, GatewayStore
from groq_gateway.store.optimistic import retry_on_conflict
from groq_gateway.store.secret_use import SecretUse

# At most this many replaced secrets may still be in grace; another rotation waits for one
# of them to retire (otherwise repeated rotations would keep many secrets alive).
MAX_PREVIOUS_SECRETS = 2
MAX_ATTEMPTS = 5


ROTATION_ACTOR = Actor("rotation", "rotation-function")


class RetireReason(StrEnum):
    QUIET = "quiet"  # past its grace period and no traffic for the quiet period
    DEADLINE = "deadline"  # the hard deadline passed (possibly still in use)


class RotationError(Exception):
    """A key that could not be rotated; the key is as it was, or waits for the next run."""


class NoSuchKeyError(RotationError):
    """No gateway key has this id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key with id {key_id!r}")
        self.key_id = key_id


class RotationRefusedError(RotationError):
    """The key's state forbids a rotation; ``code`` says which state."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class DeliveryFailedError(RotationError):
    """The new secret could not be written to the key's Secrets Manager secret."""


def delivery_secret_name(settings: Settings, key_id: str) -> str:
    return f"{settings.key_secret_prefix}{key_id}"


def rotated(key: GatewayKey, now: datetime) -> tuple[GatewayKey, MintedKey]:
    """``key`` with a new current secret; the old current one starts its grace period.

    A secret minted by an earlier rotation but never delivered is dropped: nobody has it.
    """
    if key.status in (KeyStatus.REVOKED, KeyStatus.EXPIRED):
        raise RotationRefusedError(
            f"API key '{key.key_id}' is {key.status.value}; it cannot rotate.",
            code="key_not_rotatable",
        )
    delivered = [s for s in key.secrets if s.delivered]
    if sum(1 for s in delivered if not s.is_current) >= MAX_PREVIOUS_SECRETS:
        raise RotationRefusedError(
            f"API key '{key.key_id}' already has {MAX_PREVIOUS_SECRETS} replaced secrets in "
            "their grace period; rotate again once one of them has retired.",
            code="rotation_pending",
        )
    grace_ends = now + timedelta(hours=key.grace_period_hours)
    deadline = now + timedelta(hours=key.retire_deadline_hours)
    secrets = [
        s.model_copy(update={"retire_after": grace_ends, "retire_by": deadline})
        if s.is_current
        else s
        for s in delivered
    ]
    minted = mint_key(GATEWAY_KEY_PREFIX, key.key_id)
    secrets.append(
        SecretVersion(
            secret_hash=minted.secret_hash,
            display_prefix=minted.display_prefix,
            created_at=now,
            delivered=not key.deliver_to_secret,
        )
    )
    return (
        key.model_copy(
            update={
                "secrets": secrets,
                "last_rotated_at": now,
                "updated_at": now,
                "version": key.version + 1,
            }
        ),
        minted,
    )


def is_due(key: GatewayKey, now: datetime) -> bool:
    """A scheduled rotation is due: the period has passed, or the last one was never
    delivered. Only keys delivered to a secret rotate on schedule: nobody else would ever
    see the new secret."""
    if key.status is not KeyStatus.ACTIVE or not key.deliver_to_secret:
        return False
    if any(not s.delivered for s in key.secrets):
        return True
    if key.rotation_period_days is None:
        return False
    since = key.last_rotated_at or key.created_at
    return now >= since + timedelta(days=key.rotation_period_days)


def retirement(
    key: GatewayKey, secret: SecretVersion, use: SecretUse | None, now: datetime
) -> RetireReason | None:
    """Whether a replaced secret retires now, and why."""
    if secret.retire_after is None or secret.retire_by is None:
        return None
    if now >= secret.retire_by:
        return RetireReason.DEADLINE
    quiet_since = now - timedelta(hours=key.quiet_period_hours)
    if now >= secret.retire_after and (use is None or use.last_used_at <= quiet_since):
        return RetireReason.QUIET
    return None


def deadline_warning_due(
    key: GatewayKey, secret: SecretVersion, use: SecretUse | None, now: datetime
) -> bool:
    """The deadline is near and the secret is still in use: someone must switch."""
    if secret.retire_by is None or use is None or secret.deadline_warned:
        return False
    still_used = use.last_used_at > now - timedelta(hours=key.quiet_period_hours)
    return still_used and now >= secret.retire_by - timedelta(hours=key.deadline_warning_hours)


@dataclass(frozen=True)
class Rotation:
    key: GatewayKey
    plaintext: str
    delivered_to: str | None


@dataclass
class RotationRun:
    """What one scheduled run did."""

    rotated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class KeyRotator:
    def __init__(
        self,
        store: GatewayStore,
        settings: Settings,
        *,
        now: Callable[[], datetime] = utcnow,
        deliver: Callable[[str, dict[str, Any]], None] = deliver_key,
    ) -> None:
        self.store = store
        self.settings = settings
        self.notices = store.notices
        self._now = now
        self._deliver = deliver

    # -- one key ----------------------------------------------------------------------------

    def rotate(self, key_id: str, actor: Actor) -> Rotation:
        """Rotate now: the new key (plaintext once), delivered when the key asks for it.

        :class:`NoSuchKeyError`, :class:`RotationRefusedError`, :class:`DeliveryFailedError`,
        or :class:`KeptChangingError` when the key changed under every attempt.
        """

        def attempt() -> tuple[GatewayKey, MintedKey]:
            key = self.store.keys.get(key_id)
            if key is None:
                raise NoSuchKeyError(key_id)
            now = self._now()
            new, minted = rotated(key, now)
            entry = audit_entry(actor, AuditAction.API_KEY_ROTATED, before=key, after=new, at=now)
            self.store.audit.commit(entry, [self.store.keys.update(key, new)])
            return new, minted

        new, minted = retry_on_conflict(attempt, attempts=MAX_ATTEMPTS)
        logger.info("key rotated", extra={"key_id": key_id, "actor": actor.actor_id})
        if not new.deliver_to_secret:
            return Rotation(new, minted.plaintext, None)
        return self._deliver_new_secret(new, minted)

    def _deliver_new_secret(self, key: GatewayKey, minted: MintedKey) -> Rotation:
        """Put the new secret where the app reads it, then accept it.

        Until the delivery is confirmed the new secret is refused and the old one stays
        valid; if delivery fails the next scheduled run rotates again.
        """
        name = delivery_secret_name(self.settings, key.key_id)
        try:
            self._deliver(
                name,
                {
                    "api_key": minted.plaintext,
                    "key_id": key.key_id,
                    "rotated_at": key.updated_at.isoformat(),
                },
            )
        except Exception as error:
            logger.error(
                "key delivery failed",
                extra={"key_id": key.key_id, "error_type": type(error).__name__},
            )
            raise DeliveryFailedError(
                "The new secret could not be delivered to its Secrets Manager secret; the old "
                "secret stays valid and the next scheduled run tries again."
            ) from error
        secrets = [
            s.model_copy(update={"delivered": True}) if s.secret_hash == minted.secret_hash else s
            for s in key.secrets
        ]
        confirmed = key.model_copy(update={"secrets": secrets, "version": key.version + 1})
        change = self.store.keys.update(key, confirmed)["Update"]
        self.store.table.call("update_item", **change)
        return Rotation(confirmed, minted.plaintext, name)

    # -- the scheduled run ------------------------------------------------------------------

    def run(self) -> RotationRun:
        """Rotate due keys, warn before deadlines, retire quiet or overdue secrets."""
        outcome = RotationRun()
        for key in self.store.keys.list_all():
            try:
                if is_due(key, self._now()):
                    self.rotate(key.key_id, ROTATION_ACTOR)
                    outcome.rotated.append(key.key_id)
                    continue
                self._watch_previous_secrets(key, outcome)
            except (RotationError, ConditionFailedError) as error:
                logger.warning(
                    "rotation step failed",
                    extra={"key_id": key.key_id, "error_type": type(error).__name__},
                )
                outcome.failed.append(key.key_id)
        return outcome

    def _watch_previous_secrets(self, key: GatewayKey, outcome: RotationRun) -> None:
        now = self._now()
        for secret in key.previous_secrets:
            use = self.store.secret_use.get(key.key_id, secret.secret_hash)
            reason = retirement(key, secret, use, now)
            if reason is not None:
                self._retire(key, secret, reason, use, now)
                outcome.retired.append(key.key_id)
                return  # the key's version changed: the next run looks at the rest
            if deadline_warning_due(key, secret, use, now):
                self._warn(key, secret, use, now)
                outcome.warned.append(key.key_id)
                return

    def _retire(
        self,
        key: GatewayKey,
        secret: SecretVersion,
        reason: RetireReason,
        use: SecretUse | None,
        now: datetime,
    ) -> None:
        remaining = [s for s in key.secrets if s.secret_hash != secret.secret_hash]
        retired = key.model_copy(
            update={"secrets": remaining, "updated_at": now, "version": key.version + 1}
        )
        writes = [self.store.keys.update(key, retired)]
        still_in_use = use is not None and use.last_used_at > now - timedelta(
            hours=key.quiet_period_hours
        )
        if reason is RetireReason.DEADLINE and still_in_use and use is not None:
            event = SecretRetiredEvent(
                key_id=key.key_id,
                name=key.name,
                prefix=secret.display_prefix,
                last_used_at=use.last_used_at,
                last_source_ip=use.last_source_ip,
                retired_at=now,
            )
            writes.append(self._outbox(event, now))
        entry = audit_entry(
            ROTATION_ACTOR, AuditAction.API_KEY_SECRET_RETIRED, before=key, after=retired, at=now
        )
        self.store.audit.commit(entry, writes)
        logger.info(
            "replaced secret retired",
            extra={"key_id": key.key_id, "reason": reason.value, "prefix": secret.display_prefix},
        )

    def _warn(
        self, key: GatewayKey, secret: SecretVersion, use: SecretUse | None, now: datetime
    ) -> None:
        assert use is not None
        assert secret.retire_by is not None
        secrets = [
            s.model_copy(update={"deadline_warned": True})
            if s.secret_hash == secret.secret_hash
            else s
            for s in key.secrets
        ]
        warned = key.model_copy(update={"secrets": secrets, "version": key.version + 1})
        event = RotationDeadlineEvent(
            key_id=key.key_id,
            name=key.name,
            prefix=secret.display_prefix,
            retire_by=secret.retire_by,
            last_used_at=use.last_used_at,
            last_source_ip=use.last_source_ip,
        )
        self.notices.commit([self.store.keys.update(key, warned), self._outbox(event, now)])

    def _outbox(self, event: RotationDeadlineEvent | SecretRetiredEvent, now: datetime) -> Any:
        return self.notices.outbox_put(event, now)
