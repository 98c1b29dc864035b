"""IAM principals' mapped admin roles: listed, set and deleted by a full admin, each change
audited; looked up (cached for a few seconds) by the IAM check for a principal the template's
ARN lists do not name. See docs/admin-api.md#iam-principal-roles.

Example::

    service.set("arn:aws:iam::123456789012:role/ChatbotLead",
                SetIamPrincipalRequest(role="team_admin", teams=["chatbot"]), actor)
    service.mapped_role("arn:aws:sts::123456789012:assumed-role/ChatbotLead/alice").role
    # AdminRole.TEAM_ADMIN
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from groq_gateway.admin.errors import unprocessable
from groq_gateway.admin.iam import is_principal_arn, principal_matches
from groq_gateway.admin.schemas import SetIamPrincipalRequest
from groq_gateway.admin.services.common import retry_or_conflict
from groq_gateway.admin.services.team_grants import granted_teams_unchanged
from groq_gateway.core.audit import Actor, audit_entry
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import AuditAction, IamPrincipalRole
from groq_gateway.store import GatewayStore


def _specificity(entry: str, arn: str) -> int:
    """How closely ``entry`` names ``arn``: the ARN itself, then its role, then its account."""
    if entry == arn:
        return 2
    return 0 if entry.endswith(":root") else 1


def best_match(mapped: Mapping[str, IamPrincipalRole], arn: str) -> IamPrincipalRole | None:
    """The mapping that names ``arn`` most closely (itself, its role, its account), if any."""
    matching = [entry for entry in mapped if principal_matches(entry, arn)]
    if not matching:
        return None
    return mapped[max(matching, key=lambda entry: (_specificity(entry, arn), entry))]


class IamPrincipalService:
    """``cache_seconds``: how long an instance answers the IAM check from the mappings it read
    (a change made through another instance takes effect within that time)."""

    def __init__(
        self,
        store: GatewayStore,
        *,
        cache_seconds: float,
        now: Callable[[], datetime] = utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._now = now
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, IamPrincipalRole]] | None = None

    def list(self) -> list[IamPrincipalRole]:
        """Every mapping, by ARN, read consistently."""
        mapped = self.store.iam_principals.all(consistent=True)
        return [mapped[arn] for arn in sorted(mapped)]

    def mapped_role(self, arn: str) -> IamPrincipalRole | None:
        """The mapping that applies to the principal ``arn``, from a copy at most
        ``cache_seconds`` old."""
        with self._lock:
            cached = self._cached
        if cached is None or self._clock() - cached[0] >= self.cache_seconds:
            read_at = self._clock()
            cached = (read_at, self.store.iam_principals.all())
            with self._lock:
                self._cached = cached
        return best_match(cached[1], arn)

    def set(self, arn: str, request: SetIamPrincipalRequest, actor: Actor) -> IamPrincipalRole:
        """Give ``arn`` a role (replacing its mapping); setting the same role changes nothing.
        A team role's teams must exist (422 ``unknown_team``)."""
        if not is_principal_arn(arn):
            raise unprocessable(
                f"'{arn}' is not an IAM principal ARN (a user, a role or an account's root, "
                "e.g. arn:aws:iam::123456789012:role/ChatbotLead; no wildcards).",
                param="arn",
            )

        def attempt() -> IamPrincipalRole:
            before = self.store.iam_principals.get(arn)
            now = self._now()
            if before is not None and (before.role, before.teams) == (request.role, request.teams):
                return before
            team_checks = granted_teams_unchanged(self.store, request.teams)
            after = IamPrincipalRole(
                arn=arn,
                role=request.role,
                teams=request.teams,
                updated_at=now,
                updated_by=actor.actor_id,
                version=1 if before is None else before.version + 1,
            )
            entry = audit_entry(
                actor, AuditAction.IAM_PRINCIPAL_SET, before=before, after=after, at=now
            )
            writes = [self.store.iam_principals.put(after, replacing=before), *team_checks]
            self.store.audit.commit(entry, writes)
            return after

        changed = retry_or_conflict(attempt, "IAM principal", arn)
        self._forget()
        return changed

    def delete(self, arn: str, actor: Actor) -> IamPrincipalRole:
        """Delete ``arn``'s mapping (404 when it has none): the principal keeps only what the
        template's ARN lists give it."""

        def attempt() -> IamPrincipalRole:
            before = self.store.iam_principals.get(arn)
            now = self._now()
            if before is None:
                raise GatewayError(
                    404, f"No role is mapped to IAM principal '{arn}'.", code="not_found"
                )
            entry = audit_entry(
                actor, AuditAction.IAM_PRINCIPAL_DELETED, before=before, after=None, at=now
            )
            self.store.audit.commit(entry, [self.store.iam_principals.delete(before)])
            return before

        deleted = retry_or_conflict(attempt, "IAM principal", arn)
        self._forget()
        return deleted

    def _forget(self) -> None:
        """This instance sees its own changes at once."""
        with self._lock:
            self._cached = None
