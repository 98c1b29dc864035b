"""What the proxy forwards: the request body, read within the size limit, checked against the
key's rights (model, alias) and with its worst-case cost estimated."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from starlette.requests import Request

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.records import EndpointGroup
from groq_gateway.proxy.endpoints import Endpoint
from groq_gateway.proxy.inspection import JsonRequest, audio_seconds_estimate, multipart_model
from groq_gateway.proxy.policy import Principal, choose_model

# API Gateway's own payload limit; larger bodies never reach the function in AWS.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Forward:
    """A checked request, ready to admit and forward."""

    body: bytes
    model: str | None = None  # None: an endpoint whose body names no model
    alias_from: str | None = None
    stream: bool = False
    strip_stream_usage: bool = False
    prompt_tokens: int = 0  # estimate
    completion_tokens: int = 0  # estimate (the most the request may produce)
    audio_seconds: Decimal | None = None  # estimate, for audio uploads
    speech_characters: int | None = None  # for speech, priced per input character
    cost_micros: int = 0  # worst-case cost reserved against caps

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def prepare_forward(
    principal: Principal, endpoint: Endpoint, body: bytes, content_type: str, prices: PriceBook
) -> Forward:
    """Check the body against the key's rights and estimate what it may cost."""
    if endpoint.group is EndpointGroup.AUDIO and not endpoint.json_model:
        model = multipart_model(body, content_type)
        if model is None:
            raise GatewayError(
                400,
                "You must provide a model parameter.",
                code="missing_model",
                param="model",
            )
        # Aliases rewrite JSON bodies only; an upload is forwarded with the model it names.
        choose_model(principal, model, aliases=False)
        seconds = audio_seconds_estimate(len(body))
        return Forward(
            body=body,
            model=model,
            audio_seconds=seconds,
            cost_micros=prices.admit(model, prices.audio_cost(model, seconds)),
        )
    if not endpoint.json_model:
        return Forward(body=body)
    parsed = JsonRequest.parse(body)
    choice = choose_model(principal, parsed.model)
    if choice.alias_from:
        parsed = parsed.with_model(choice.model)
    forwarded = parsed.with_stream_usage()
    prompt = parsed.prompt_tokens_estimate
    completion = 0 if endpoint.group is EndpointGroup.AUDIO else parsed.completion_tokens_limit
    characters = speech_characters(parsed) if endpoint.group is EndpointGroup.AUDIO else None
    cost = (
        prices.token_cost(choice.model, prompt, completion)
        if characters is None
        else prices.speech_cost(choice.model, characters)
    )
    return Forward(
        body=forwarded.body(body),
        model=choice.model,
        alias_from=choice.alias_from,
        stream=parsed.stream,
        strip_stream_usage=parsed.stream and not parsed.client_wants_usage,
        prompt_tokens=prompt,
        completion_tokens=completion,
        speech_characters=characters,
        cost_micros=prices.admit(choice.model, cost),
    )


def speech_characters(parsed: JsonRequest) -> int:
    """The characters speech is priced by: its ``input`` text (the body's size, when the
    input is not text: never fewer than Groq may bill)."""
    text = parsed.payload.get("input")
    return len(text) if isinstance(text, str) else parsed.size


async def read_body(request: Request) -> bytes:
    """The whole request body; a 413 once it passes :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise body_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise body_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large() -> GatewayError:
    return GatewayError(
        413,
        f"Request body is larger than the gateway's limit of {MAX_BODY_BYTES} bytes.",
        code="request_too_large",
    )
