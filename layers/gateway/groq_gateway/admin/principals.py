"""Who calls the admin API: an admin key or an IAM principal, its role, and where from."""

from __future__ import annotations

from dataclasses import dataclass

from groq_gateway.core.audit import Actor
from groq_gateway.core.records import AdminRole


@dataclass(frozen=True)
class AdminPrincipal:
    """Who is calling: an admin key's id and name, and what it may do."""

    actor_id: str
    name: str
    role: AdminRole


BOOTSTRAP_PRINCIPAL = AdminPrincipal("bootstrap", "bootstrap-admin", AdminRole.FULL)


@dataclass(frozen=True)
class Caller:
    """The principal behind a request and the address it came from."""

    principal: AdminPrincipal
    source_ip: str | None

    @property
    def actor(self) -> Actor:
        """The caller as the audit log names it."""
        return Actor(self.principal.actor_id, self.principal.name, self.source_ip)
