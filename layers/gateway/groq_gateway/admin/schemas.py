"""What the admin API accepts and returns. Unknown fields are refused, never ignored.

Each resource's settable fields are declared once; its create and PATCH bodies derive from them.
JSON is taken as typed: ``"5"`` or ``true`` is no integer, ``1`` or ``"true"`` no boolean (money
may be a decimal string, times are ISO 8601 strings, as docs/admin-api.md says). Lists, maps and
strings are bounded so that the largest record (and its audit entry, which holds it twice) stays
well under DynamoDB's 400 KB item limit; names and descriptions hold no control or format
characters (a terminal would act on them).
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeVar, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from groq_gateway.core.records import (
    TEAM_ID_PATTERN,
    AdminRole,
    AuditAction,
    AuditEntry,
    AuditTarget,
    EndpointGroup,
    IamPrincipalRole,
    KeyStatus,
)
from groq_gateway.core.views import (
    AdminKeyResponse,
    KeyResponse,
    TeamResponse,
    Usd,
)
from groq_gateway.store.paging import Page

Item = TypeVar("Item")


# The bounds that keep every record (and its audit entry) well under DynamoDB's 400 KB item
# limit: tests/integration/test_admin_input_bounds.py writes the largest record they admit.
MAX_MODEL_ID_LENGTH = 128
MAX_MODELS = 200
MAX_ALIASES = 100
MAX_CIDRS = 100
MAX_ENDPOINT_GROUPS = 16

# Unicode categories refused in names and descriptions: controls (C0, DEL, C1: escape
# sequences, carriage returns), format characters (bidirectional overrides, zero-width
# characters), lone surrogates (not encodable), line and paragraph separators.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-23:59 is past the calendar's end in UTC
        raise ValueError(
            f"{value.isoformat()} is out of range: in UTC it falls outside years 1 to 9999"
        ) from None


def _iso_text(value: object) -> object:
    """A time must be given as ISO 8601 text (or be a datetime already), not a number."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 time as a string, e.g. 2027-01-01T00:00:00Z")


def _printable(value: str) -> str:
    """``value``, if it holds no character a terminal or log viewer would act on or hide."""
    for char in value:
        if unicodedata.category(char) in _UNPRINTABLE_CATEGORIES:
            raise ValueError(
                f"may not contain control or format characters (found U+{ord(char):04X})"
            )
    return value


def _model_id(value: str) -> str:
    """Model ids are printable ASCII without spaces, as Groq's are."""
    if not all("!" <= char <= "~" for char in value):
        raise ValueError(
            f"{value!r} is not a model id: printable ASCII without spaces or control characters"
        )
    return value


def _normalized_cidr(value: str) -> str:
    """``10.1.2.0/24`` as given; a bare address becomes its /32 (or /128); host bits are
    cleared (``10.1.2.3/24`` -> ``10.1.2.0/24``)."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a CIDR block (e.g. 203.0.113.0/24 or 2001:db8::/32)"
        ) from None


class ErrorDetail(BaseModel):
    message: str
    type: str
    # The request field the error is about, if any.
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every error, in OpenAI's format, so the SDKs raise their own exceptions."""

    error: ErrorDetail


def _unique(values: list[str] | None) -> list[str] | None:
    """The list without repeats, in the order given."""
    return None if values is None else list(dict.fromkeys(values))


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_printable),
]
Description = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_printable)]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_printable),
]
TeamId = Annotated[str, StringConstraints(pattern=TEAM_ID_PATTERN)]
ModelId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MODEL_ID_LENGTH),
    AfterValidator(_model_id),
]
ModelList = Annotated[list[ModelId], Field(max_length=MAX_MODELS), AfterValidator(_unique)]
ModelAliases = Annotated[dict[ModelId, ModelId], Field(max_length=MAX_ALIASES)]
PerMinuteLimit = Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]
BudgetUsd = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=6)]
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_as_utc)]
Cidr = Annotated[str, AfterValidator(_normalized_cidr)]
CidrList = Annotated[list[Cidr], Field(max_length=MAX_CIDRS)]
EndpointGroups = Annotated[list[EndpointGroup], Field(max_length=MAX_ENDPOINT_GROUPS)]
RotationDays = Annotated[StrictInt, Field(ge=1, le=3650)]
Hours = Annotated[StrictInt, Field(ge=0, le=2160)]


class _Patch(BaseModel):
    """A PATCH body: only the fields it names change."""

    model_config = ConfigDict(extra="forbid")

    def changes(self) -> dict[str, Any]:
        """The fields the request named, with their values (``None`` clears)."""
        return {field: getattr(self, field) for field in self.model_fields_set}


def _refuse_null(value: object) -> object:
    """For PATCH fields that cannot be cleared (a name, a status)."""
    if value is None:
        raise ValueError("may not be null")
    return value


def _admits_null(field: FieldInfo) -> bool:
    return field.annotation is None or type(None) in get_args(field.annotation)


PatchModel = TypeVar("PatchModel", bound=_Patch)


def with_changes_of(
    settings: type[BaseModel],
) -> Callable[[type[PatchModel]], type[PatchModel]]:
    """Add ``settings``' fields to a PATCH body, ahead of its own: each optional and unset by
    default, with the same constraints; ``null`` is refused where creation refuses it."""

    def derive(body: type[PatchModel]) -> type[PatchModel]:
        fields: dict[str, Any] = {
            name: (field.rebuild_annotation() | None, None)
            for name, field in settings.model_fields.items()
        }
        not_nullable = [
            name for name, field in settings.model_fields.items() if not _admits_null(field)
        ]
        changes = create_model(
            f"{settings.__name__}Changes",
            __base__=_Patch,
            __module__=__name__,
            __validators__={
                "refuse_null": field_validator(*not_nullable, mode="before")(_refuse_null)
            },
            **fields,
        )
        bases: tuple[type[BaseModel], ...] = (body, changes)
        derived = create_model(
            body.__name__, __base__=bases, __module__=__name__, __doc__=body.__doc__
        )
        return cast("type[PatchModel]", derived)  # a subclass of ``body``

    return derive


class _StatusChange(_Patch):
    status: Literal["active", "paused"] | None = None
    paused_reason: Reason | None = None

    @field_validator("status", mode="before")
    @classmethod
    def not_null(cls, value: object) -> object:
        return _refuse_null(value)


class _List(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    # Pass as ``after`` to read the next page; null on the last page.
    next_cursor: str | None

    @classmethod
    def of_page(cls, page: Page[Item], view: Callable[[Item], BaseModel]) -> Self:
        """The list response of one store page, each item shown as ``view`` shows it."""
        return cls.model_validate(
            {
                "data": [view(item) for item in page.items],
                "has_more": page.next_cursor is not None,
                "next_cursor": page.next_cursor,
            }
        )


# ------------------------------------------------------------------------------------------
# Gateway keys
# ------------------------------------------------------------------------------------------


class KeySettings(BaseModel):
    """A gateway key's settable fields, with their defaults at creation."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    team: TeamId | None = None
    description: Description = ""
    # None: every model the team allows (every model, without a team). [] allows none.
    allowed_models: ModelList | None = None
    requests_per_minute: PerMinuteLimit | None = None
    tokens_per_minute: PerMinuteLimit | None = None
    monthly_budget_usd: BudgetUsd | None = None
    expires_at: UtcDatetime | None = None
    # None: chat, responses, models and audio; files and batches only when named.
    allowed_endpoints: EndpointGroups | None = None
    # None: any source address.
    allowed_cidrs: CidrList | None = None
    rotation_period_days: RotationDays | None = None
    # Rotation: see docs/operations.md, "Rotating a gateway key".
    grace_period_hours: Hours = 24
    quiet_period_hours: Hours = 24
    retire_deadline_hours: Annotated[StrictInt, Field(ge=1, le=2160)] = 168
    deadline_warning_hours: Hours = 24
    deliver_to_secret: StrictBool = False


class CreateKeyRequest(KeySettings):
    """A new gateway key: a name, and any of its limits, allowlists, team and rotation."""


@with_changes_of(KeySettings)
class UpdateKeyRequest(_StatusChange):
    """A key's changes; ``status`` pauses (``paused``) or resumes (``active``) it."""


class CreatedKeyResponse(KeyResponse):
    """Returned once, at creation: the only time the plaintext key is shown."""

    key: str


class RotatedKeyResponse(CreatedKeyResponse):
    """Returned by a rotation: the new key, shown this once, and where it was delivered."""

    delivered_to: str | None


class KeyList(_List):
    data: list[KeyResponse]


# ------------------------------------------------------------------------------------------
# Teams
# ------------------------------------------------------------------------------------------


class TeamSettings(BaseModel):
    """A team's settable fields, with their defaults at creation."""

    model_config = ConfigDict(extra="forbid")

    description: Description = ""
    # None: every model. [] allows none.
    allowed_models: ModelList | None = None
    # Requested model id -> the id forwarded, applied before the allowlist check.
    model_aliases: ModelAliases = Field(default_factory=dict)
    requests_per_minute: PerMinuteLimit | None = None
    tokens_per_minute: PerMinuteLimit | None = None
    monthly_budget_usd: BudgetUsd | None = None


class _TeamIdentity(BaseModel):
    id: TeamId


# The identity's field comes first: pydantic orders fields from the last base to the first.
class CreateTeamRequest(TeamSettings, _TeamIdentity):
    """A team: the models its keys may use, model aliases, limits and a monthly budget."""


@with_changes_of(TeamSettings)
class UpdateTeamRequest(_StatusChange):
    """A team's changes; ``status`` pauses (``paused``) or resumes (``active``) every key of
    the team."""


class TeamList(_List):
    data: list[TeamResponse]


class DeletedTeamResponse(BaseModel):
    object: Literal["team.deleted"] = "team.deleted"
    id: str
    deleted: Literal[True] = True


# ------------------------------------------------------------------------------------------
# Admin keys
# ------------------------------------------------------------------------------------------


# The most teams one admin key or IAM principal holds a team role for.
MAX_ROLE_TEAMS = 20


class _TeamRole(BaseModel):
    """A role and, for ``team_admin`` and ``team_viewer``, the teams it holds for (required,
    at least one); ``full`` and ``read_only`` take no teams."""

    model_config = ConfigDict(extra="forbid")

    # read_only: reads everything; full: every admin route; team_viewer: reads its teams'
    # keys, usage and audit entries; team_admin: also manages its teams' keys
    # (docs/admin-api.md#roles).
    role: AdminRole
    teams: Annotated[list[TeamId], Field(min_length=1, max_length=MAX_ROLE_TEAMS)] | None = None

    @model_validator(mode="after")
    def teams_match_role(self) -> Self:
        if self.role.is_team_scoped and not self.teams:
            raise ValueError(f"role {self.role.value} needs teams: the team ids it holds for")
        if not self.role.is_team_scoped and self.teams is not None:
            raise ValueError(f"role {self.role.value} is organisation-wide: give no teams")
        if self.teams is not None:
            self.teams = sorted(set(self.teams))
        return self


class CreateAdminKeyRequest(_TeamRole):
    name: Name
    description: Description = ""


class CreatedAdminKeyResponse(AdminKeyResponse):
    """Returned once, at creation: the only time the plaintext admin key is shown."""

    key: str


class AdminKeyList(_List):
    data: list[AdminKeyResponse]


class SetIamPrincipalRequest(_TeamRole):
    """The admin role of an IAM principal the template's ARN lists do not name."""


class IamPrincipalResponse(BaseModel):
    object: Literal["iam_principal"] = "iam_principal"
    # A user, a role (every session of it) or an account's root, as given.
    arn: str
    role: AdminRole
    teams: list[str] | None
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, principal: IamPrincipalRole) -> IamPrincipalResponse:
        return cls(**principal.model_dump(exclude={"version"}))


class IamPrincipalList(BaseModel):
    object: Literal["list"] = "list"
    data: list[IamPrincipalResponse]


class DeletedIamPrincipalResponse(BaseModel):
    object: Literal["iam_principal.deleted"] = "iam_principal.deleted"
    arn: str
    deleted: Literal[True] = True


class CallerResponse(BaseModel):
    """Who the caller is, as the admin API sees it."""

    # The admin key's id ("bootstrap" for the bootstrap key) or the IAM principal's ARN: the
    # audit log's actor_id.
    actor: str
    # The admin key's name, or the ARN's resource part (e.g. assumed-role/Ops/alice).
    name: str
    role: AdminRole
    # The teams of a team_admin or team_viewer; null for full and read_only.
    teams: list[str] | None


# ------------------------------------------------------------------------------------------
# Audit log
# ------------------------------------------------------------------------------------------


class AuditEntryResponse(BaseModel):
    object: Literal["audit_log.entry"] = "audit_log.entry"
    id: str
    at: datetime
    # The admin key's id ("bootstrap" for the bootstrap admin key) and name.
    actor_id: str
    actor_name: str
    action: AuditAction
    target_type: AuditTarget
    target_id: str
    # The record as the admin API showed it before and after the change (null when it did
    # not exist): never a plaintext key, never a hash.
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source_ip: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryResponse:
        return cls(
            id=entry.entry_id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_name=entry.actor_name,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            before=entry.before,
            after=entry.after,
            source_ip=entry.source_ip,
        )


class AuditLogPage(_List):
    data: list[AuditEntryResponse]


# ------------------------------------------------------------------------------------------
# Usage
# ------------------------------------------------------------------------------------------


class UsageTotals(BaseModel):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    audio_seconds: float
    # At the gateway's prices when the requests were made.
    cost_usd: Usd
    # Requests metered from an estimate (e.g. a stream cut off before its usage arrived).
    estimated_requests: int
    # Requests for a model without a known price (counted in tokens, at no cost).
    unpriced_requests: int


class BudgetStatus(BaseModel):
    """A monthly cap: what is committed against it and when it resets."""

    monthly_budget_usd: Usd
    # Settled spend plus what requests in flight reserved: what the cap is checked against.
    # The organisation's also holds the unused part of the proxy instances' budget leases.
    committed_usd: Usd
    # That unused part of the budget leases, included in committed_usd (0 but for the
    # organisation): it comes back to remaining_usd as instances give their leases back.
    leased_usd: Usd
    remaining_usd: Usd
    resets_at: datetime


class KeyUsageSummary(BaseModel):
    """``today`` counts the UTC day; ``month_to_date`` the UTC days since the billing month
    began."""

    key_id: str
    key_name: str
    team: str | None
    status: KeyStatus
    # Today's (UTC) requests, tokens and cost, at a glance.
    requests_today: int
    tokens_today: int
    estimated_cost_usd: Usd
    today: UsageTotals
    month_to_date: UsageTotals
    # null when the key has no monthly budget of its own.
    budget: BudgetStatus | None


class TeamUsageSummary(BaseModel):
    team: str
    requests_today: int
    tokens_today: int
    estimated_cost_usd: Usd
    today: UsageTotals
    month_to_date: UsageTotals
    budget: BudgetStatus | None


class OrganizationUsageSummary(BaseModel):
    requests_today: int
    tokens_today: int
    estimated_cost_usd: Usd
    today: UsageTotals
    month_to_date: UsageTotals
    # The organisation's monthly cap (OrgMonthlyCapUSD); null when none is set.
    budget: BudgetStatus | None


class UsageSummary(BaseModel):
    """Today and month to date, per key, per team and for the organisation."""

    object: Literal["usage.summary"] = "usage.summary"
    # Today (UTC): what the *_today figures count.
    date: date
    # The billing month (YYYY-MM, in the billing timezone) that budgets count.
    month: str
    # When monthly budgets reset: 00:00 on the 1st of the next month, billing timezone.
    resets_at: datetime
    usage_by_key: list[KeyUsageSummary]
    usage_by_team: list[TeamUsageSummary]
    # null for a team_admin or team_viewer: the organisation's figures are not theirs to see.
    organization: OrganizationUsageSummary | None


GroupBy = Literal["key", "team", "model"]


class UsageResult(UsageTotals):
    """Usage of one group in one bucket; a field not grouped by is null."""

    object: Literal["usage.result"] = "usage.result"
    key_id: str | None
    key_name: str | None
    team: str | None
    model: str | None


class UsageBucket(BaseModel):
    object: Literal["bucket"] = "bucket"
    # First and last UTC day of the bucket within the requested range.
    start: date
    end: date
    results: list[UsageResult]


class UsageHistory(BaseModel):
    object: Literal["usage.history"] = "usage.history"
    start: date
    end: date
    bucket: Literal["day", "month"]
    group_by: list[GroupBy]
    data: list[UsageBucket]
