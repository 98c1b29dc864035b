"""A batch input file read as it is uploaded (what each model's lines may use at most, the first
line the gateway cannot check) and a batch's output file metered per model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from groq_gateway.core.batches import (
    MAX_BATCH_MODELS,
    BatchOutputMeter,
    BatchRecord,
    ModelDemand,
    meter_batch_output,
)
from groq_gateway.core.pricing import PriceBook
from groq_gateway.proxy.batches import read_batch_input
from groq_gateway.proxy.inspection import BYTES_PER_TOKEN

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
GPT, SMALL = "openai/gpt-oss-120b", "openai/gpt-oss-20b"
PRICES = PriceBook.load()


def line(model: str, url: str = "/v1/chat/completions", **body: Any) -> bytes:
    """A chat line; with no output limit given, ``max_tokens`` 16 (every line names one)."""
    limits = {"max_tokens": 16} if not body.keys() & {"max_tokens", "max_completion_tokens"} else {}
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], **limits, **body}
    return json.dumps({"custom_id": "x", "method": "POST", "url": url, "body": payload}).encode()


def prompt_estimate(raw: bytes) -> int:
    body = json.dumps(json.loads(raw)["body"]).encode()
    return -(-len(body) // BYTES_PER_TOKEN)


def test_each_models_lines_are_summed_at_their_output_limits() -> None:
    lines = [line(GPT, max_tokens=100), line(GPT, max_completion_tokens=7), line(SMALL)]

    summary = read_batch_input(b"\n".join(lines) + b"\n")

    assert summary.invalid is None
    assert summary.lines == 3
    assert summary.urls == ["/v1/chat/completions"]
    assert summary.models == {
        GPT: ModelDemand(
            lines=2,
            prompt_tokens=prompt_estimate(lines[0]) + prompt_estimate(lines[1]),
            completion_tokens=107,
        ),
        SMALL: ModelDemand(
            lines=1,
            prompt_tokens=prompt_estimate(lines[2]),
            completion_tokens=16,
        ),
    }


def test_a_line_without_an_output_limit_cannot_be_run() -> None:
    # Lines are forwarded as written: Groq could produce more than any default reserved.
    unbounded = json.dumps(
        {"url": "/v1/chat/completions", "body": {"model": GPT, "messages": []}}
    ).encode()

    summary = read_batch_input(b"\n".join([line(GPT), unbounded]))

    assert summary.invalid is not None
    assert summary.invalid.number == 2
    assert "no output limit" in summary.invalid.reason


def test_a_line_with_two_output_limits_reserves_the_larger() -> None:
    summary = read_batch_input(line(GPT, max_completion_tokens=1, max_tokens=6000))

    assert summary.models[GPT].completion_tokens == 6000


def test_the_first_line_that_cannot_be_checked_is_named_with_its_number() -> None:
    content = b"\n".join([line(GPT), b"", line(GPT, url="/v1/embeddings"), b"oops"])

    summary = read_batch_input(content)

    assert summary.invalid is not None
    assert summary.invalid.number == 3  # blank lines count in the numbering
    assert "`url`" in summary.invalid.reason


def test_a_file_naming_too_many_models_cannot_be_run() -> None:
    content = b"\n".join(line(f"model-{n}") for n in range(MAX_BATCH_MODELS + 1))

    summary = read_batch_input(content)

    assert summary.invalid is not None
    assert summary.invalid.number == MAX_BATCH_MODELS + 1


def test_audio_lines_are_counted_apart() -> None:
    audio = json.dumps(
        {"url": "/v1/audio/transcriptions", "body": {"model": "whisper-large-v3", "url": "u"}}
    ).encode()

    summary = read_batch_input(b"\n".join([audio, line(GPT)]))

    assert summary.audio_lines == 1
    assert summary.models["whisper-large-v3"] == ModelDemand(lines=1)


def output(model: str | None, prompt: int, completion: int, *, responses: bool = False) -> bytes:
    usage = (
        {"input_tokens": prompt, "output_tokens": completion}
        if responses
        else {"prompt_tokens": prompt, "completion_tokens": completion}
    )
    body: dict[str, Any] = {"usage": usage}
    if model is not None:
        body["model"] = model
    item = {"id": "r", "response": {"status_code": 200, "body": body}, "error": None}
    return json.dumps(item).encode()


def batch(*models: str) -> BatchRecord:
    return BatchRecord(
        batch_id="batch_1",
        key_id="k" * 16,
        team_id="chatbot",
        input_file_id="file_1",
        endpoint="/v1/chat/completions",
        created_at=NOW,
        models=list(models),
    )


def test_the_output_is_metered_per_model_at_the_batch_price() -> None:
    failed = json.dumps({"response": {"status_code": 400, "body": {"error": {}}}}).encode()
    content = b"\n".join(
        [output(GPT, 10, 20), output(GPT, 5, 5), output(SMALL, 7, 3, responses=True), failed]
    )

    metered = meter_batch_output(content, batch(GPT, SMALL), PRICES, at=NOW)

    by_model = {m.record.model: m for m in metered}
    assert {model: m.lines for model, m in by_model.items()} == {GPT: 2, SMALL: 1}
    gpt = by_model[GPT].record
    assert (gpt.prompt_tokens, gpt.completion_tokens) == (15, 25)
    assert gpt.cost_micros == PRICES.token_cost(GPT, 15, 25, batch=True).micros
    assert gpt.cost_micros < PRICES.token_cost(GPT, 15, 25).micros
    assert (gpt.key_id, gpt.team_id, gpt.at) == ("k" * 16, "chatbot", NOW)


def test_a_line_naming_no_model_is_metered_as_the_batchs_priciest() -> None:
    metered = meter_batch_output(output(None, 100, 100), batch(SMALL, GPT), PRICES, at=NOW)

    assert [m.record.model for m in metered] == [GPT]


def test_no_output_file_meters_nothing() -> None:
    assert meter_batch_output(None, batch(GPT), PRICES, at=NOW) == []
    meter = BatchOutputMeter()
    meter.add_line("not json")
    meter.add_line('{"response": {"body": {"usage": {"prompt_tokens": 0}}}}')
    assert meter.metered(batch(GPT), PRICES, at=NOW) == []


def audio_answer(duration: float | None) -> bytes:
    body: dict[str, Any] = {"text": "hello", "x_groq": {"id": "req_1"}}
    if duration is not None:
        body["duration"] = duration
    return json.dumps({"response": {"status_code": 200, "body": body}}).encode()


def test_an_audio_batch_is_metered_by_duration_or_else_its_reserved_audio() -> None:
    """An audio answer carries no token usage: never $0, its duration when given."""
    audio = BatchRecord(
        **{
            **batch("whisper-large-v3", "whisper-large-v3-turbo").model_dump(),
            "audio_lines": {"whisper-large-v3": 2, "whisper-large-v3-turbo": 1},
            "audio_seconds_per_line": 600,
        }
    )
    refused = json.dumps({"response": {"status_code": 400, "body": {"error": {}}}}).encode()
    content = b"\n".join([audio_answer(12.5), audio_answer(None), refused])

    [metered] = meter_batch_output(content, audio, PRICES, at=NOW)

    record = metered.record
    assert metered.lines == 2
    assert record.model == "whisper-large-v3"  # the priciest of the batch's audio models
    assert record.audio_seconds == Decimal("612.5")
    assert record.estimated
    assert record.cost_micros == PRICES.audio_cost("whisper-large-v3", Decimal("612.5")).micros
    assert record.cost_micros > 0
