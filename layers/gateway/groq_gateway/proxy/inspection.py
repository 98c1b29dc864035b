"""What the proxy reads from a request body before forwarding it (model, stream, token
estimates) and the few changes it makes to it (a team's model alias, a stream's usage).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from groq_gateway.core.errors import GatewayError

# Estimates for the token limits and the worst-case cost reserved against caps; settlement
# replaces them with Groq's figures. Prompt: the JSON body's bytes / 4 (about 4 characters a
# token, and the JSON around the text makes it an overestimate). Completion: the request's
# max_completion_tokens / max_tokens / max_output_tokens, else a default (for requests, the
# DefaultMaxCompletionTokens setting, which the proxy then sets on the forwarded body so that
# Groq can never produce more than was reserved; for batch lines, this constant). Audio
# uploads: a second per 1,000 bytes (8 kbit/s, below any speech codec's bitrate).
DEFAULT_MAX_COMPLETION_TOKENS = 1024
BYTES_PER_TOKEN = 4
AUDIO_BYTES_PER_SECOND = 1000
OUTPUT_LIMIT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


@dataclass(frozen=True)
class JsonRequest:
    """A JSON request body that names a model (chat completions, responses, speech)."""

    payload: dict[str, Any]
    size: int
    model: str
    stream: bool = False
    client_wants_usage: bool = False
    changed: bool = field(default=False, compare=False)

    @classmethod
    def parse(cls, body: bytes) -> JsonRequest:
        payload = parse_json_object(body)
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise GatewayError(
                400, "You must provide a model parameter.", code="missing_model", param="model"
            )
        stream = payload.get("stream", False)
        if not isinstance(stream, bool):
            raise GatewayError(
                400, "'stream' must be a boolean.", code="invalid_type", param="stream"
            )
        options = payload.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise GatewayError(
                400,
                "'stream_options' must be an object.",
                code="invalid_type",
                param="stream_options",
            )
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        choices = payload.get("n")
        if choices is not None and (choices != 1 or isinstance(choices, bool)):
            # Groq generates one choice per request; more would multiply the output reserved.
            raise GatewayError(
                400,
                "'n' must be 1: Groq generates one choice per request.",
                param="n",
                code="invalid_value",
            )
        return cls(
            payload=payload,
            size=len(body),
            model=model,
            stream=stream,
            client_wants_usage=wants_usage,
        )

    @property
    def prompt_tokens_estimate(self) -> int:
        return math.ceil(self.size / BYTES_PER_TOKEN)

    @property
    def completion_tokens_limit(self) -> int:
        """The most the request may produce: the largest of every output-limit field present
        (Groq reads ``max_completion_tokens`` or ``max_tokens`` for chat and
        ``max_output_tokens`` for responses; whichever it reads, no more is served than
        this). Each field present must be a whole number of at least 1."""
        limits = []
        for name in OUTPUT_LIMIT_FIELDS:
            value = self.payload.get(name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise GatewayError(
                    400, f"'{name}' must be an integer.", code="invalid_type", param=name
                )
            if value < 1:
                raise GatewayError(
                    400, f"'{name}' must be at least 1.", code="invalid_value", param=name
                )
            limits.append(value)
        return max(limits, default=DEFAULT_MAX_COMPLETION_TOKENS)

    @property
    def names_output_limit(self) -> bool:
        return any(self.payload.get(name) is not None for name in OUTPUT_LIMIT_FIELDS)

    def with_output_limit(self, name: str, limit: int) -> JsonRequest:
        """Set the output limit ``name`` to ``limit`` (for a request that named none)."""
        return replace(self, payload={**self.payload, name: limit}, changed=True)

    def with_model(self, model: str) -> JsonRequest:
        return replace(self, payload={**self.payload, "model": model}, model=model, changed=True)

    def with_stream_usage(self) -> JsonRequest:
        """Ask Groq for the usage chunk at the end of a stream (stripped again later if the
        client did not ask for it)."""
        if not self.stream or self.client_wants_usage:
            return self
        options = dict(self.payload.get("stream_options") or {})
        options["include_usage"] = True
        return replace(self, payload={**self.payload, "stream_options": options}, changed=True)

    def body(self, original: bytes) -> bytes:
        return json.dumps(self.payload).encode() if self.changed else original


def audio_seconds_estimate(body_size: int) -> Decimal:
    return Decimal(max(1, math.ceil(body_size / AUDIO_BYTES_PER_SECOND)))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body, or a 400: not JSON, not an object, a key named twice in one object
    (parsers disagree on which one counts, so the gateway and Groq could read different
    models), numbers past Python's digit limit, nesting past the recursion limit."""
    try:
        payload: Any = json.loads(body, object_pairs_hook=_object_without_repeated_keys)
    except _RepeatedKeyError as error:
        raise GatewayError(
            400,
            f"The request body names '{error.key}' more than once in one object.",
            code="invalid_json",
            param=error.key,
        ) from error
    except RecursionError as error:
        raise GatewayError(
            400, "The request body is nested too deeply.", code="invalid_json"
        ) from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GatewayError(
            400, "The request body is not valid JSON.", code="invalid_json"
        ) from error
    except ValueError as error:  # an integer past Python's digit limit
        raise GatewayError(
            400, "The request body has a number too long to read.", code="invalid_json"
        ) from error
    if not isinstance(payload, dict):
        raise GatewayError(400, "The request body must be a JSON object.", code="invalid_json")
    return payload


class _RepeatedKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKeyError(key)
            seen.add(key)
    return result
