"""What a key may do (models after the team's aliases, endpoint groups, source addresses):
its own rights intersected with its team's, checked in memory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import EndpointGroup, GatewayKey, SecretVersion, Team, TeamStatus
from groq_gateway.proxy.endpoints import Endpoint


@dataclass(frozen=True)
class Principal:
    """The caller: an authenticated key, its team (if it has one), the secret it presented
    and the address it called from."""

    key: GatewayKey
    team: Team | None
    secret: SecretVersion | None = None
    source_ip: str | None = None

    @property
    def uses_replaced_secret(self) -> bool:
        """A rotation replaced the presented secret: its use is tracked until it retires."""
        return self.secret is not None and not self.secret.is_current


@dataclass(frozen=True)
class ModelChoice:
    model: str  # what is forwarded
    alias_from: str | None  # what the client asked for, when an alias replaced it


def budget_paused(subject: str) -> GatewayError:
    """The answer for a key or team the usage poller paused at 100 % of its budget: final
    for the SDKs (no retry) until the budget is raised or the billing month ends."""
    return GatewayError(
        429,
        f"{subject} has reached its monthly budget; requests resume when the budget is raised "
        "or the billing month ends.",
        type="insufficient_quota",
        code="spending_cap_reached",
        headers={"x-should-retry": "false"},
    )


def check_team(principal: Principal) -> None:
    team = principal.team
    if team is None or team.status is TeamStatus.ACTIVE:
        return
    if team.paused_reason == "budget":
        raise budget_paused(f"Team `{team.team_id}`")
    raise GatewayError(
        403,
        f"Team `{team.team_id}` is paused: {team.paused_reason or 'by an admin'}.",
        code="team_paused",
    )


def check_endpoint(principal: Principal, endpoint: Endpoint) -> None:
    check_endpoint_group(principal, endpoint.group)


def check_endpoint_group(principal: Principal, group: EndpointGroup) -> None:
    """403 unless the key may use ``group`` (also what a batch's lines ask for)."""
    if group not in principal.key.endpoint_groups:
        raise GatewayError(
            403,
            f"This key may not use the {group.value} endpoints.",
            code="endpoint_not_allowed",
        )


def check_source(principal: Principal) -> None:
    cidrs = principal.key.allowed_cidrs
    if cidrs is None:
        return
    try:
        address = ipaddress.ip_address(principal.source_ip or "")
    except ValueError:
        address = None
    if address is None or not any(
        address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs
    ):
        raise GatewayError(
            403, "This key may not be used from this address.", code="ip_not_allowed"
        )


def allowed_models(principal: Principal) -> frozenset[str] | None:
    """The models the key may use, or ``None`` for any model."""
    team_models = principal.team.allowed_models if principal.team else None
    sets = [frozenset(m) for m in (principal.key.allowed_models, team_models) if m is not None]
    if not sets:
        return None
    return frozenset[str].intersection(*sets)


def choose_model(principal: Principal, requested: str, *, aliases: bool = True) -> ModelChoice:
    """The model to forward: the team's alias applied, then checked against the allowlists."""
    table = principal.team.model_aliases if principal.team and aliases else {}
    model = table.get(requested, requested)
    allowed = allowed_models(principal)
    if allowed is not None and model not in allowed:
        raise GatewayError(
            403,
            f"Model not in key's allowed list: the model `{model}` is not available to this key.",
            code="model_not_available",
            param="model",
        )
    return ModelChoice(model, requested if model != requested else None)
