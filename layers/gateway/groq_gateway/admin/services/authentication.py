"""Who an admin API bearer token belongs to: an admin key created through the API, or the
bootstrap admin key from its secret."""

from __future__ import annotations

import hmac

from groq_gateway.admin.errors import bootstrap_key_unavailable
from groq_gateway.admin.principals import BOOTSTRAP_PRINCIPAL, AdminPrincipal
from groq_gateway.core.key_format import ADMIN_KEY_PREFIX, hash_secret, parse_key
from groq_gateway.core.records import AdminKeyStatus
from groq_gateway.secrets_manager import AdminKeys, SecretUnavailableError
from groq_gateway.store import GatewayStore


class AuthenticationService:
    def __init__(self, store: GatewayStore, bootstrap: AdminKeys) -> None:
        self.store = store
        self.bootstrap = bootstrap

    def principal(self, token: str) -> AdminPrincipal | None:
        """The principal behind ``token``, else ``None``; 503 when the bootstrap key's secret
        is needed and cannot be read."""
        principal = self.admin_key_principal(token)
        if principal is not None:
            return principal
        try:
            is_bootstrap = self.bootstrap.is_bootstrap_key(token)
        except SecretUnavailableError as error:
            raise bootstrap_key_unavailable(error) from error
        return BOOTSTRAP_PRINCIPAL if is_bootstrap else None

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
        teams = frozenset(key.teams) if key.role.is_team_scoped and key.teams else None
        if key.role.is_team_scoped and teams is None:
            return None  # a team role without teams holds no rights
        return AdminPrincipal(key.key_id, key.name, key.role, teams)
