"""Who calls the admin API: an admin key or an IAM principal, its role (and, for a
team-scoped role, its teams), and where from."""

from __future__ import annotations

from dataclasses import dataclass

from groq_gateway.core.audit import Actor
from groq_gateway.core.records import AdminRole


@dataclass(frozen=True)
class AdminPrincipal:
    """Who is calling: an admin key's id and name (or an IAM ARN), and what it may do.

    ``teams`` holds the teams of a ``team_admin`` or ``team_viewer``; None for org roles.
    """

    actor_id: str
    name: str
    role: AdminRole
    teams: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.role.is_team_scoped != (self.teams is not None):
            raise ValueError(f"role {self.role} and teams {self.teams} do not go together")


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

    @property
    def teams(self) -> frozenset[str] | None:
        """The teams a team-scoped caller is limited to; None: the whole organisation."""
        return self.principal.teams
