"""IAM (SigV4) callers of the admin API: the identity API Gateway vouches for, and its role.
See docs/architecture.md#admin-callers-over-iam-the-trust-model and docs/admin-api.md.

Example::

    access = IamAccess(read_only=("arn:aws:iam::123456789012:role/Dashboards",))
    access.principal(request.headers.get(REQUEST_CONTEXT_HEADER)).role  # AdminRole.READ_ONLY
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from groq_gateway.admin.principals import AdminPrincipal
from groq_gateway.core.errors import GatewayError
from groq_gateway.core.records import AdminRole, IamPrincipalRole

# The prefix of the IAM-authenticated copy of every admin route.
IAM_PATH_PREFIX = "/iam"
# Where the Lambda Web Adapter puts API Gateway's requestContext (JSON).
REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
# Set on every HTTP scope by IamRoutes: True when the request came in under IAM_PATH_PREFIX.
IAM_ROUTE_SCOPE_KEY = "groq_gateway.iam_route"

FULL_ARNS_VARIABLE = "ADMIN_IAM_FULL_ARNS"
READ_ONLY_ARNS_VARIABLE = "ADMIN_IAM_READ_ONLY_ARNS"

_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):"
    r"(?P<resource>[A-Za-z0-9+=,.@_/-]+)$"
)


class IamRoutes:
    """Serve ``/iam/openai/v1/...`` as ``/openai/v1/...``, marked (``IAM_ROUTE_SCOPE_KEY``) so
    that authentication takes the caller from API Gateway's IAM check, not from a bearer key.

    Example::

        app.add_middleware(IamRoutes)  # GET /iam/openai/v1/teams runs GET /openai/v1/teams
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            iam_route = path.startswith(f"{IAM_PATH_PREFIX}/")
            scope = {**scope, IAM_ROUTE_SCOPE_KEY: iam_route}
            if iam_route:
                scope["path"] = path.removeprefix(IAM_PATH_PREFIX)
                raw_path = scope.get("raw_path")
                if isinstance(raw_path, bytes):
                    scope["raw_path"] = raw_path.removeprefix(IAM_PATH_PREFIX.encode())
        await self.app(scope, receive, send)


def is_iam_route(scope: Scope) -> bool:
    """Whether the request came in under ``/iam/`` (see :class:`IamRoutes`)."""
    return scope.get(IAM_ROUTE_SCOPE_KEY) is True


@dataclass(frozen=True)
class IamIdentity:
    """Who API Gateway says signed the request.

    ``arn`` is ``identity.userArn`` (for a role, the session:
    ``arn:aws:sts::123456789012:assumed-role/Ops/alice``), ``account_id`` the caller's account
    and ``api_account_id`` the account that owns the API (the context's ``accountId``).
    """

    arn: str
    account_id: str
    api_account_id: str | None

    @property
    def name(self) -> str:
        """The ARN's resource part, e.g. ``user/alice`` or ``assumed-role/Ops/alice``."""
        return self.arn.split(":", 5)[5]


def identity_from_context(raw: str | None) -> IamIdentity | None:
    """The IAM identity in API Gateway's request context, or ``None`` when there is none.

    The context must come from an ``/iam/`` route (its ``resourcePath``) and name a principal
    ARN whose account is the identity's ``accountId``; anything else is ``None``.

    Example::

        identity_from_context('{"resourcePath": "/iam/openai/v1/teams", "accountId":'
                              ' "123456789012", "identity": {"accountId": "123456789012",'
                              ' "userArn": "arn:aws:iam::123456789012:user/alice"}}').name
        # 'user/alice'
    """
    if not raw:
        return None
    try:
        context: Any = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(context, dict):
        return None
    resource_path = context.get("resourcePath")
    identity = context.get("identity")
    if not isinstance(resource_path, str) or not resource_path.startswith(f"{IAM_PATH_PREFIX}/"):
        return None
    if not isinstance(identity, dict):
        return None
    arn, account_id = identity.get("userArn"), identity.get("accountId")
    if not isinstance(arn, str) or not isinstance(account_id, str):
        return None
    parsed = _ARN.fullmatch(arn)
    if parsed is None or parsed["account"] != account_id:
        return None
    api_account_id = context.get("accountId")
    return IamIdentity(
        arn=arn,
        account_id=account_id,
        api_account_id=api_account_id if isinstance(api_account_id, str) else None,
    )


def principal_matches(entry: str, arn: str) -> bool:
    """Whether an allowlist entry admits the principal ``arn``.

    Example::

        principal_matches("arn:aws:iam::123456789012:role/Ops",
                          "arn:aws:sts::123456789012:assumed-role/Ops/alice")  # True
    """
    if entry == arn:
        return True
    wanted, caller = _ARN.fullmatch(entry), _ARN.fullmatch(arn)
    if wanted is None or caller is None:
        return False
    if (wanted["partition"], wanted["account"]) != (caller["partition"], caller["account"]):
        return False
    if wanted["service"] != "iam":
        return False
    if wanted["resource"] == "root":
        return True
    if wanted["resource"].startswith("role/") and caller["service"] == "sts":
        # A role's path is not part of its session ARNs: only its name is.
        role_name = wanted["resource"].rsplit("/", 1)[1]
        return caller["resource"].startswith(f"assumed-role/{role_name}/")
    return False


def is_principal_arn(value: str) -> bool:
    """Whether ``value`` is an IAM principal ARN (no wildcards)."""
    return _ARN.fullmatch(value) is not None


def _checked(entries: Iterable[str], variable: str) -> tuple[str, ...]:
    checked = tuple(entries)
    for entry in checked:
        if _ARN.fullmatch(entry) is None:
            raise ValueError(
                f"{variable}: {entry!r} is not an IAM principal ARN (e.g. "
                "arn:aws:iam::123456789012:role/Ops; no wildcards)"
            )
    return checked


def missing_iam_identity() -> GatewayError:
    """401 for an ``/iam/`` request that API Gateway did not authenticate."""
    return GatewayError(
        401,
        "Routes under /iam/ take the caller from API Gateway's IAM (SigV4) check, and this "
        "request came without an IAM identity. Sign it with SigV4, or call /openai/v1/... "
        "with an admin key.",
        code="missing_iam_identity",
    )


def principal_not_allowed(arn: str) -> GatewayError:
    """403 for an authenticated IAM principal that may not use the admin API."""
    return GatewayError(
        403,
        f"The IAM principal {arn} may not use the admin API: it is not in "
        f"{FULL_ARNS_VARIABLE} or {READ_ONLY_ARNS_VARIABLE}, no role is mapped to it "
        "(groq-gateway iam-principals set) and, when both lists are empty, it is not of the "
        "account that owns the API.",
        type="permission_error",
        code="iam_principal_not_allowed",
    )


@dataclass(frozen=True)
class IamAccess:
    """The admin roles of IAM principals: ``full`` and ``read_only`` allowlists of ARNs (the
    template's parameters), then the roles a full admin mapped in the table (``mapped``: the
    mapping that applies to an ARN), then, with both lists empty, ``full`` for the API's own
    account."""

    full: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    mapped: Callable[[str], IamPrincipalRole | None] | None = None

    def __post_init__(self) -> None:
        _checked(self.full, FULL_ARNS_VARIABLE)
        _checked(self.read_only, READ_ONLY_ARNS_VARIABLE)

    def listed_role(self, identity: IamIdentity) -> AdminRole | None:
        """The identity's role from the ARN lists, if they name it."""
        if any(principal_matches(entry, identity.arn) for entry in self.read_only):
            return AdminRole.READ_ONLY
        if any(principal_matches(entry, identity.arn) for entry in self.full):
            return AdminRole.FULL
        return None

    def role_of(self, identity: IamIdentity) -> AdminRole | None:
        """The identity's role from the parameters alone (the lists, else, when both are
        empty, ``full`` for the API's own account), or ``None``."""
        if not self.full and not self.read_only:
            same_account = identity.account_id == identity.api_account_id
            return AdminRole.FULL if same_account else None
        return self.listed_role(identity)

    def principal(self, raw_context: str | None) -> AdminPrincipal:
        """The admin principal behind an ``/iam/`` request: its ARN is the audit log's actor.
        ``mapped`` may read the table: call it off the event loop.

        401 without an IAM identity in the context, 403 for a principal without a role.
        """
        identity = identity_from_context(raw_context)
        if identity is None:
            raise missing_iam_identity()
        listed = self.listed_role(identity)
        if listed is not None:
            return AdminPrincipal(actor_id=identity.arn, name=identity.name, role=listed)
        mapped = self.mapped(identity.arn) if self.mapped is not None else None
        if mapped is not None:
            teams = frozenset(mapped.teams or ()) if mapped.role.is_team_scoped else None
            return AdminPrincipal(identity.arn, identity.name, mapped.role, teams)
        role = self.role_of(identity)
        if role is None:
            raise principal_not_allowed(identity.arn)
        return AdminPrincipal(actor_id=identity.arn, name=identity.name, role=role)
