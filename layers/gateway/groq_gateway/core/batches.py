"""Batches and files as the gateway keeps them: who uploaded each file and created each batch,
what a batch input file asks for (checked and priced before the batch is created) and what a
batch's output file says it used (metered once, when its end is first seen).
See docs/architecture.md#batches-and-files.

Example::

    metered = meter_batch_output(output_bytes, batch, prices, at=now)
    sum(model.record.cost_micros for model in metered)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groq_gateway.core.limits import SpendReservation
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.records import EndpointGroup, UsageRecord

# The batch statuses after which Groq runs nothing more of a batch.
TERMINAL_BATCH_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})

# The endpoint a batch line (its ``url``) or a batch (its ``endpoint``) names, and the group
# of the key's endpoint allowlist it belongs to. Anything else is refused.
BATCH_URL_GROUPS: dict[str, EndpointGroup] = {
    "/v1/chat/completions": EndpointGroup.CHAT,
    "/v1/responses": EndpointGroup.RESPONSES,
    "/v1/audio/transcriptions": EndpointGroup.AUDIO,
    "/v1/audio/translations": EndpointGroup.AUDIO,
}

# Distinct models one input file may name (each is an entry of the file's record, which must
# stay far below DynamoDB's 400 KB item limit); and the longest model name kept.
MAX_BATCH_MODELS = 50
MAX_MODEL_NAME = 200


class ModelDemand(BaseModel):
    """What an input file's lines for one model may use at most."""

    model_config = ConfigDict(frozen=True)

    lines: int = 0
    prompt_tokens: int = 0  # estimate, as for a request
    completion_tokens: int = 0  # the lines' output limits (or the default)

    def __add__(self, other: ModelDemand) -> ModelDemand:
        return ModelDemand(
            lines=self.lines + other.lines,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class InvalidLine(BaseModel):
    """The first line of an input file that the gateway cannot check."""

    model_config = ConfigDict(frozen=True)

    number: int  # 1-based
    reason: str


class BatchInput(BaseModel):
    """What a batch input file asks for, read from the upload as it passed the gateway."""

    model_config = ConfigDict(frozen=True)

    lines: int = 0
    urls: list[str] = Field(default_factory=list)  # distinct, sorted
    models: dict[str, ModelDemand] = Field(default_factory=dict)
    audio_lines: int = 0  # lines whose cost no bound limits (audio by URL)
    invalid: InvalidLine | None = None

    def audio_models(self) -> dict[str, int]:
        """The models of audio lines (which carry no token estimate), with their lines."""
        return {
            model: demand.lines
            for model, demand in self.models.items()
            if not (demand.prompt_tokens or demand.completion_tokens)
        }

    def worst_case_micros(self, prices: PriceBook) -> int:
        """The most the file's token lines may cost at Groq's batch price."""
        return sum(
            prices.token_cost(
                model, demand.prompt_tokens, demand.completion_tokens, batch=True
            ).micros
            for model, demand in self.models.items()
        )


class FilePurpose(StrEnum):
    BATCH = "batch"  # uploaded through the gateway
    BATCH_OUTPUT = "batch_output"  # a batch's output or error file, written by Groq


class FileRecord(BaseModel):
    """A file a key owns: uploaded through the gateway, or written by Groq for its batch."""

    model_config = ConfigDict(frozen=True)

    file_id: str
    key_id: str
    team_id: str | None = None
    purpose: FilePurpose = FilePurpose.BATCH
    filename: str = ""
    bytes: int = 0
    created_at: datetime
    batch_id: str | None = None  # for a batch's output and error files
    # For an upload: what it asks for as a batch input file (None: not readable as one).
    batch_input: BatchInput | None = None


class BatchState(StrEnum):
    OPEN = "open"  # its reservation is held; its end not yet metered
    METERED = "metered"  # its real use is metered and the rest of its reservation given back


class BatchRecord(BaseModel):
    """A batch a key created through the gateway, with what it reserved against caps."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    key_id: str
    team_id: str | None = None
    input_file_id: str
    endpoint: str
    created_at: datetime
    state: BatchState = BatchState.OPEN
    status: str = "validating"  # Groq's, as last seen
    # Per scope with a cap: the month and micros reserved (the batch's worst case).
    reservations: list[SpendReservation] = Field(default_factory=list)
    reserved_micros: int = 0
    models: list[str] = Field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    metered_at: datetime | None = None
    cost_micros: int | None = None
    lines_metered: int | None = None
    # Audio lines (a transcription or translation batch): their models and lines, and the
    # audio each line was reserved for (charged where the output gives no duration).
    audio_lines: dict[str, int] = Field(default_factory=dict)
    audio_seconds_per_line: int = 0


@dataclass(frozen=True)
class MeteredModel:
    """One model's share of a batch's output: its metering record and how many lines."""

    record: UsageRecord
    lines: int


class BatchOutputMeter:
    """Reads a batch's output file line by line (it may be large) and says what the batch
    used, per model. Lines without usage (refused, failed) cost nothing; a line whose body
    names no model is metered as the batch's most expensive model."""

    def __init__(self) -> None:
        self._usage: dict[str | None, list[int]] = {}  # model -> [lines, prompt, completion]
        self._answered = 0  # lines Groq answered with a 200, for audio batches
        self._durations: list[Decimal] = []  # the audio durations the output gives

    def add_line(self, line: bytes | str) -> None:
        self._count_audio(line)
        tokens = _line_usage(line)
        if tokens is None:
            return
        model, prompt, completion = tokens
        totals = self._usage.setdefault(model, [0, 0, 0])
        totals[0] += 1
        totals[1] += prompt
        totals[2] += completion

    def metered(self, batch: BatchRecord, prices: PriceBook, *, at: datetime) -> list[MeteredModel]:
        merged: dict[str, list[int]] = {}
        fallback = _priciest([m for m in batch.models if m not in batch.audio_lines], prices)
        for model, totals in self._usage.items():
            name = model or fallback
            if name is None:
                continue
            into = merged.setdefault(name, [0, 0, 0])
            for index, value in enumerate(totals):
                into[index] += value
        metered = []
        for model, (lines, prompt, completion) in sorted(merged.items()):
            cost = prices.token_cost(model, prompt, completion, batch=True)
            record = UsageRecord(
                key_id=batch.key_id,
                team_id=batch.team_id,
                model=model,
                at=at,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_micros=cost.micros,
                unpriced=cost.unpriced,
            )
            metered.append(MeteredModel(record, lines))
        audio = self._audio(batch, prices, at)
        return metered if audio is None else [*metered, audio]

    def _count_audio(self, line: bytes | str) -> None:
        try:
            item: Any = json.loads(line)
        except ValueError:
            return
        response = item.get("response") if isinstance(item, dict) else None
        if not isinstance(response, dict) or response.get("status_code") != 200:
            return
        body = response.get("body")
        if isinstance(body, dict) and "usage" in body:
            return  # a token line
        self._answered += 1
        duration = body.get("duration") if isinstance(body, dict) else None
        if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
            self._durations.append(Decimal(str(duration)))

    def _audio(self, batch: BatchRecord, prices: PriceBook, at: datetime) -> MeteredModel | None:
        """An audio batch's answered lines: their durations where the output gives them,
        else the audio each line was reserved for (flagged estimated); at the priciest of its
        audio models, since an audio answer names none."""
        if not batch.audio_lines or not self._answered:
            return None
        hour = Decimal(3600)
        model = max(batch.audio_lines, key=lambda m: prices.audio_cost(m, hour).micros)
        unknown = self._answered - len(self._durations)
        seconds = sum(self._durations, Decimal(0)) + unknown * batch.audio_seconds_per_line
        cost = prices.audio_cost(model, seconds)
        record = UsageRecord(
            key_id=batch.key_id,
            team_id=batch.team_id,
            model=model,
            at=at,
            audio_seconds=seconds,
            cost_micros=cost.micros,
            estimated=unknown > 0,
            unpriced=cost.unpriced,
        )
        return MeteredModel(record, self._answered)


def meter_batch_output(
    content: bytes | None, batch: BatchRecord, prices: PriceBook, *, at: datetime
) -> list[MeteredModel]:
    """What a batch used, per model, from its whole output file (``None``: it has none)."""
    meter = BatchOutputMeter()
    for line in (content or b"").splitlines():
        meter.add_line(line)
    return meter.metered(batch, prices, at=at)


def _line_usage(line: bytes | str) -> tuple[str | None, int, int] | None:
    """``(model, prompt tokens, completion tokens)`` of one output line that used any."""
    try:
        item: Any = json.loads(line)
    except ValueError:
        return None
    response = item.get("response") if isinstance(item, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(usage, dict):
        return None
    prompt = _count(usage, "prompt_tokens", "input_tokens")
    completion = _count(usage, "completion_tokens", "output_tokens")
    if prompt == completion == 0:
        return None
    model = body.get("model")
    return (model if isinstance(model, str) and model else None), prompt, completion


def _count(usage: dict[str, Any], *names: str) -> int:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0


def _priciest(models: Iterable[str], prices: PriceBook) -> str | None:
    return max(
        models,
        key=lambda model: prices.token_cost(model, 1_000_000, 1_000_000, batch=True).micros,
        default=None,
    )
