"""What the proxy forwards: the request body, read within the size limit, checked against the
key's rights (model, alias) and with its worst-case cost estimated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from starlette.requests import Request

from groq_gateway.core.errors import GatewayError
from groq_gateway.core.pricing import PriceBook
from groq_gateway.core.records import EndpointGroup
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.endpoints import Endpoint
from groq_gateway.proxy.inspection import JsonRequest, audio_seconds_estimate
from groq_gateway.proxy.multipart import Form, parse_form
from groq_gateway.proxy.policy import Principal, allowed_models, choose_model

# API Gateway's own payload limit; larger bodies never reach the function in AWS.
MAX_BODY_BYTES = 10 * 1024 * 1024
# The request headers forwarded to Groq besides the key (see upstream.request_headers).
FORWARDED_HEADERS = ("content-type", "accept")
# Transcript formats Groq answers; the gateway asks for verbose_json (which carries the
# audio's duration, what it is billed by) and writes the client's format from it.
TRANSCRIPT_FORMATS = frozenset({"json", "verbose_json", "text"})
METERED_TRANSCRIPT_FORMAT = "verbose_json"
# The field a request without an output limit gets, so Groq never produces more than the
# reservation: chat completions read max_completion_tokens, responses max_output_tokens.
OUTPUT_LIMIT_FIELD = {
    EndpointGroup.CHAT: "max_completion_tokens",
    EndpointGroup.RESPONSES: "max_output_tokens",
}


@dataclass(frozen=True)
class Forward:
    """A checked request, ready to admit and forward."""

    body: bytes
    # Content-Type and Accept as forwarded (checked: printable ASCII).
    headers: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None  # None: an endpoint whose body names no model
    alias_from: str | None = None
    stream: bool = False
    strip_stream_usage: bool = False
    prompt_tokens: int = 0  # estimate
    completion_tokens: int = 0  # estimate (the most the request may produce)
    audio_seconds: Decimal | None = None  # estimate, for audio uploads
    speech_characters: int | None = None  # for speech, priced per input character
    cost_micros: int = 0  # worst-case cost reserved against caps
    # The transcript format the client asked for, when Groq is asked for verbose_json instead.
    transcript_format: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def prepare_forward(
    principal: Principal,
    endpoint: Endpoint,
    body: bytes,
    headers: Mapping[str, str],
    prices: PriceBook,
    *,
    settings: Settings,
    path: str = "",
) -> Forward:
    """Check the request against the key's rights and estimate what it may cost."""
    forwarded_headers = checked_headers(headers)
    if endpoint.group is EndpointGroup.MODELS and path.startswith("models/"):
        check_model_visible(principal, path.removeprefix("models/"))
    if endpoint.group is EndpointGroup.AUDIO and not endpoint.json_model:
        form = parse_form(body, forwarded_headers.get("content-type", ""))
        return prepare_transcription(principal, form, forwarded_headers, prices, settings)
    if not endpoint.json_model:
        return Forward(body=body, headers=forwarded_headers)
    parsed = JsonRequest.parse(body)
    choice = choose_model(principal, parsed.model)
    if choice.alias_from:
        parsed = parsed.with_model(choice.model)
    prompt = parsed.prompt_tokens_estimate
    limit_field = OUTPUT_LIMIT_FIELD.get(endpoint.group)
    if limit_field and not parsed.names_output_limit:
        default = default_output_limit(principal, prompt, settings.default_max_completion_tokens)
        parsed = parsed.with_output_limit(limit_field, default)
    forwarded = parsed.with_stream_usage()
    completion = 0 if endpoint.group is EndpointGroup.AUDIO else parsed.completion_tokens_limit
    characters = speech_characters(parsed) if endpoint.group is EndpointGroup.AUDIO else None
    cost = (
        prices.token_cost(choice.model, prompt, completion)
        if characters is None
        else prices.speech_cost(choice.model, characters)
    )
    return Forward(
        body=forwarded.body(body),
        headers=forwarded_headers,
        model=choice.model,
        alias_from=choice.alias_from,
        stream=parsed.stream,
        strip_stream_usage=parsed.stream and not parsed.client_wants_usage,
        prompt_tokens=prompt,
        completion_tokens=completion,
        speech_characters=characters,
        cost_micros=prices.admit(choice.model, cost),
    )


def default_output_limit(principal: Principal, prompt_tokens: int, default: int) -> int:
    """The output limit set on a request that names none: the default, or what the key's and
    its team's per-minute token limits leave after the prompt, whichever is less (so that a
    request a limit admitted before is still admitted)."""
    team = principal.team
    per_minute = [
        limit
        for limit in (principal.key.tokens_per_minute, team.tokens_per_minute if team else None)
        if limit
    ]
    room = min(per_minute) - prompt_tokens if per_minute else default
    return max(1, min(default, room))


def speech_characters(parsed: JsonRequest) -> int:
    """The characters speech is priced by: its ``input`` text (the body's size, when the
    input is not text: never fewer than Groq may bill)."""
    text = parsed.payload.get("input")
    return len(text) if isinstance(text, str) else parsed.size


def prepare_transcription(
    principal: Principal,
    form: Form,
    headers: Mapping[str, str],
    prices: PriceBook,
    settings: Settings,
) -> Forward:
    """A transcription or translation upload: the one ``model`` part checked, Groq asked for
    verbose_json (its ``duration`` is what settlement meters), the audio's length estimated
    from the file's size, or for a ``url`` the configured worst case."""
    model = form.text("model")
    if not model:
        raise GatewayError(
            400, "You must provide a model parameter.", code="missing_model", param="model"
        )
    # Aliases rewrite JSON bodies only; an upload is forwarded with the model it names.
    choose_model(principal, model, aliases=False)
    transcript_format = form.text("response_format") or "json"
    if transcript_format not in TRANSCRIPT_FORMATS:
        raise GatewayError(
            400,
            "'response_format' must be one of json, verbose_json or text.",
            code="invalid_value",
            param="response_format",
        )
    seconds = audio_seconds_estimate(sum(len(part.content) for part in form.named("file")))
    if form.text("url"):
        seconds = max(seconds, url_audio_seconds(principal, settings))
    body, content_type = (
        form.with_text("model", model)
        .with_text("response_format", METERED_TRANSCRIPT_FORMAT)
        .encode()
    )
    return Forward(
        body=body,
        headers={**headers, "content-type": content_type},
        model=model,
        audio_seconds=seconds,
        cost_micros=prices.admit(model, prices.audio_cost(model, seconds)),
        transcript_format=(
            None if transcript_format == METERED_TRANSCRIPT_FORMAT else transcript_format
        ),
    )


def url_audio_seconds(principal: Principal, settings: Settings) -> Decimal:
    """The audio reserved for a transcription by ``url`` (its length is unknown until Groq
    answers): ``max_url_audio_seconds``; with no bound set (0), refused where a spending cap
    applies, since nothing would bound what it spends."""
    bound = settings.max_url_audio_seconds
    if bound:
        return Decimal(bound)
    team = principal.team
    capped = (
        principal.key.monthly_budget_usd is not None
        or (team is not None and team.monthly_budget_usd is not None)
        or settings.org_cap_micros is not None
    )
    if capped:
        raise GatewayError(
            400,
            "Transcription by 'url' is not available to keys under a spending cap: the "
            "audio's length is unknown and no bound is configured. Upload the file instead.",
            code="url_audio_unbounded",
            param="url",
        )
    return Decimal(1)


def check_model_visible(principal: Principal, model: str) -> None:
    """``GET /models/{model}`` for a model outside the key's allowlist: Groq's own 404, without
    asking Groq."""
    allowed = allowed_models(principal)
    if allowed is not None and model not in allowed:
        raise GatewayError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The client headers forwarded to Groq; a 400 for one that is not printable ASCII (an
    HTTP client cannot send it on), before anything is counted."""
    checked: dict[str, str] = {}
    for name in FORWARDED_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if not all(" " <= char <= "~" or char == "\t" for char in value):
            raise GatewayError(
                400,
                f"The {name.title()} header must be printable ASCII.",
                code="invalid_header",
            )
        checked[name] = value
    return checked


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
