"""Limits as the client sees them, in Groq's format: the 429 (or 413) for a refused admission
and the ``x-ratelimit-*`` headers on an admitted request."""

from __future__ import annotations

import math
from datetime import datetime

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.limits import LimitExceededError, LimitKind, Scope
from groq_gateway.core.money import micros_to_cents
from groq_gateway.core.periods import minute_end, utcnow
from groq_gateway.core.records import GatewayKey
from groq_gateway.proxy.policy import Principal
from groq_gateway.store.counters import Admission


def limit_headers(key: GatewayKey, admission: Admission | None) -> dict[str, str]:
    """The key's own per-minute limits: limit and reset always, remaining when known."""
    if admission is None:
        return {}
    reset = go_duration((minute_end(admission.plan.at) - admission.plan.at).total_seconds())
    headers: dict[str, str] = {}
    counts = admission.counts or {}  # the key's window, when its admission returned it
    for kind, limit in (
        ("requests", key.requests_per_minute),
        ("tokens", key.tokens_per_minute),
    ):
        if limit is None:
            continue
        headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        headers[f"x-ratelimit-reset-{kind}"] = reset
        if kind in counts:
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, limit - counts[kind]))
    return headers


def limit_error(principal: Principal, refusal: LimitExceededError) -> GatewayError:
    """The 429 (or 413) for a refused admission, with headers that say when to retry."""
    now = utcnow()
    wait = max(0.0, (refusal.resets_at - now).total_seconds())
    who = {
        Scope.KEY: f"key `{principal.key.name}`",
        Scope.TEAM: f"team `{principal.team.team_id if principal.team else ''}`",
        Scope.ORG: "the organisation",
    }[refusal.scope]
    if refusal.kind is LimitKind.SPEND:
        return GatewayError(
            429,
            f"Monthly spending cap reached for {who}: ${micros_to_cents(refusal.limit)}. "
            f"Requests resume when the cap is raised or at {reset_text(refusal.resets_at)}.",
            type="insufficient_quota",
            code="spending_cap_reached",
            headers={"x-should-retry": "false", "retry-after": str(math.ceil(wait))},
        )
    unit = (
        "requests per minute (RPM)"
        if refusal.kind is LimitKind.REQUESTS
        else ("tokens per minute (TPM)")
    )
    if refusal.oversize:
        return GatewayError(
            413,
            f"Request too large for {who} on {unit}: Limit {refusal.limit}. Reduce the prompt "
            "or max_tokens.",
            type=refusal.kind.value,
            code="rate_limit_exceeded",
            headers={"x-should-retry": "false"},
        )
    headers = {
        "retry-after": str(max(1, math.ceil(wait))),
        f"x-ratelimit-limit-{refusal.kind.value}": str(refusal.limit),
        f"x-ratelimit-remaining-{refusal.kind.value}": str(max(0, refusal.limit - refusal.used)),
        f"x-ratelimit-reset-{refusal.kind.value}": go_duration(wait),
    }
    return GatewayError(
        429,
        f"Rate limit reached for {who} on {unit}: Limit {refusal.limit}, Used {refusal.used}. "
        f"Please try again in {wait:.3f}s.",
        type=refusal.kind.value,
        code="rate_limit_exceeded",
        headers=headers,
    )


def go_duration(seconds: float) -> str:
    """A Go-style duration like Groq's reset headers: ``7.66s``, ``285ms``, ``2m59.56s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.2f}s" if minutes else f"{rest:.2f}s"


def reset_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
