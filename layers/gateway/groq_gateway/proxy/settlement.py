"""Settlement after the response: real usage replaces the reservation, the metering item is
added and a lease draw is settled. See docs/architecture.md#admission-and-settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import anyio.to_thread

from groq_gateway.core.observability import logger
from groq_gateway.core.periods import utcnow
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.records import UsageRecord
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.after_response import AfterResponse
from groq_gateway.proxy.budget_leases import OrgBudgetLeases, tend_org_leases
from groq_gateway.proxy.forward import Forward
from groq_gateway.proxy.policy import Principal
from groq_gateway.proxy.telemetry import RequestTelemetry
from groq_gateway.proxy.usage_tap import ObservedUsage
from groq_gateway.store import GatewayStore
from groq_gateway.store.counters import Admission, SettlementIncompleteError


@dataclass(kw_only=True)
class Settlement:
    """Settles this instance's admitted requests (single-item writes, each sent at most once)
    and tends its leases."""

    settings: Settings
    store: GatewayStore
    prices: PriceBook
    org_leases: OrgBudgetLeases

    def release_later(
        self,
        later: AfterResponse,
        admission: Admission,
        principal: Principal,
        forward: Forward,
        telemetry: RequestTelemetry,
    ) -> None:
        """Give back a reservation for a request that was admitted but never answered."""

        async def release() -> None:
            await self.settle(admission, principal, forward, None, telemetry)

        later.add(release)

    async def settle(
        self,
        admission: Admission,
        principal: Principal,
        forward: Forward,
        observed: ObservedUsage | None,
        telemetry: RequestTelemetry,
    ) -> None:
        """Replace the reservation with what the request really used (nothing, if it failed)."""
        usage = None if observed is None else self.usage_record(principal, forward, observed)
        also = []
        if principal.uses_replaced_secret and principal.secret is not None:
            also.append(
                self.store.secret_use.seen_update(
                    principal.key.key_id,
                    principal.secret.secret_hash,
                    utcnow(),
                    principal.source_ip,
                    principal.secret.retire_by,
                )
            )
        if usage is not None:
            telemetry.prompt_tokens, telemetry.completion_tokens = (
                usage.prompt_tokens,
                usage.completion_tokens,
            )
            telemetry.cost_micros, telemetry.estimated = usage.cost_micros, usage.estimated
        micros = usage.cost_micros if usage else 0
        draw = admission.org_draw
        try:
            await anyio.to_thread.run_sync(
                lambda: self.store.counters.settle(admission, micros=micros, usage=usage, also=also)
            )
            failed: tuple[str, ...] = ()
        except SettlementIncompleteError as error:
            failed = error.failed
            self.log_unsettled(admission, principal, usage, micros, error)
            telemetry.extra["settlement_failed"] = True
        if draw:
            if "organisation" in failed:
                self.org_leases.unsettled(draw)
            else:
                self.org_leases.settled(draw, micros)
        if self.org_leases.enabled:
            await tend_org_leases(self.org_leases, self.store, self.settings)

    @staticmethod
    def log_unsettled(
        admission: Admission,
        principal: Principal,
        usage: UsageRecord | None,
        micros: int,
        error: SettlementIncompleteError,
    ) -> None:
        """A settlement whose writes were not all applied: what is needed to replay the
        missing ones, without content. A reservation not replaced stays counted (the safe
        direction for caps)."""
        logger.error(
            "settlement failed",
            extra={
                "error": str(error),
                "failed": list(error.failed),
                "usage": usage.model_dump(mode="json") if usage else None,
                "cost_micros": micros,
                "reservations": [
                    {"scope": r.scope.value, "id": r.scope_id, "month": r.month, "micros": r.micros}
                    for r in admission.plan.reservations
                ],
                "team_id": admission.plan.team_id,
                "lease_id": admission.org_draw.lease_id if admission.org_draw else None,
                "key_id": principal.key.key_id,
            },
        )

    def usage_record(
        self, principal: Principal, forward: Forward, observed: ObservedUsage
    ) -> UsageRecord | None:
        """What the request used, as Groq reported it or, cut off before that, estimated."""
        if forward.model is None:
            return None
        if forward.audio_seconds is not None:
            seconds = observed.audio_seconds or forward.audio_seconds
            cost = self.prices.audio_cost(forward.model, seconds)
            estimated = observed.audio_seconds is None
            prompt = completion = 0
        else:
            seconds = Decimal(0)
            estimated = not observed.has_tokens
            if observed.prompt_tokens is not None and observed.completion_tokens is not None:
                prompt, completion = observed.prompt_tokens, observed.completion_tokens
            else:
                # Cut off before Groq reported usage (the client left, the connection broke):
                # the prompt was read and billed. What Groq generated is unknown: at least
                # what was relayed; all it was asked for (the reservation) unless Groq said
                # the generation ended. The safe direction for caps; never recorded as free.
                # See docs/architecture.md#streams-cut-short.
                prompt = forward.prompt_tokens
                completion = observed.relayed_tokens(forward.completion_tokens)
                if not observed.generation_ended:
                    completion = max(completion, forward.completion_tokens)
            cost = self.prices.token_cost(forward.model, prompt, completion)
        if forward.speech_characters is not None:
            # Speech is billed by its input characters, known exactly before forwarding.
            cost = self.prices.speech_cost(forward.model, forward.speech_characters)
            estimated, prompt, completion = False, forward.prompt_tokens, 0
        return UsageRecord(
            key_id=principal.key.key_id,
            team_id=principal.key.team_id,
            model=forward.model,
            at=utcnow(),
            prompt_tokens=prompt,
            completion_tokens=completion,
            audio_seconds=seconds,
            cost_micros=cost.micros,
            estimated=estimated or cost.unpriced,  # at the fallback price: an estimate
            unpriced=cost.unpriced,
        )
