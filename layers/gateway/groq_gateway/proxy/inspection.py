"""What the proxy needs to know about a request body before forwarding it, and the few
changes it makes to it (a team's model alias; asking Groq for a stream's usage).

Token estimates feed the per-minute token limits and the worst-case cost reserved against
caps; settlement replaces them with Groq's real figures:

* prompt tokens: the JSON body's size in bytes divided by 4 (Groq's tokenizers average
  about 4 characters per token, and the JSON around the text makes this an overestimate);
* completion tokens: ``max_completion_tokens`` / ``max_tokens`` / ``max_output_tokens``
  when given, else ``DEFAULT_MAX_COMPLETION_TOKENS``;
* audio uploads: one second of audio per 1,000 bytes uploaded (8 kbit/s, below any speech
  codec's bitrate), so the reservation covers the real duration.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from groq_gateway.core.errors import GatewayError

DEFAULT_MAX_COMPLETION_TOKENS = 1024
BYTES_PER_TOKEN = 4
AUDIO_BYTES_PER_SECOND = 1000


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
        try:
            payload: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GatewayError(
                400, "The request body is not valid JSON.", code="invalid_json"
            ) from error
        if not isinstance(payload, dict):
            raise GatewayError(400, "The request body must be a JSON object.", code="invalid_json")
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
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        return cls(payload, len(body), model, stream, wants_usage)

    @property
    def prompt_tokens_estimate(self) -> int:
        return math.ceil(self.size / BYTES_PER_TOKEN)

    @property
    def completion_tokens_limit(self) -> int:
        for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
            value = self.payload.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                if value < 1:
                    raise GatewayError(
                        400, f"'{name}' must be at least 1.", code="invalid_value", param=name
                    )
                return value
        return DEFAULT_MAX_COMPLETION_TOKENS

    def with_model(self, model: str) -> JsonRequest:
        return JsonRequest(
            {**self.payload, "model": model},
            self.size,
            model,
            self.stream,
            self.client_wants_usage,
            changed=True,
        )

    def with_stream_usage(self) -> JsonRequest:
        """Ask Groq for the usage chunk at the end of a stream (stripped again later if the
        client did not ask for it)."""
        if not self.stream or self.client_wants_usage:
            return self
        options = dict(self.payload.get("stream_options") or {})
        options["include_usage"] = True
        return JsonRequest(
            {**self.payload, "stream_options": options},
            self.size,
            self.model,
            self.stream,
            self.client_wants_usage,
            changed=True,
        )

    def body(self, original: bytes) -> bytes:
        return json.dumps(self.payload).encode() if self.changed else original


def audio_seconds_estimate(body_size: int) -> Decimal:
    return Decimal(max(1, math.ceil(body_size / AUDIO_BYTES_PER_SECOND)))


def multipart_model(body: bytes, content_type: str) -> str | None:
    """The ``model`` field of a multipart/form-data body, without parsing the file parts."""
    boundary = None
    for part in content_type.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return None
    for section in body.split(b"--" + boundary.encode()):
        head, _, content = section.partition(b"\r\n\r\n")
        if b'name="model"' in head and b"filename=" not in head:
            return content.rstrip(b"\r\n").decode("utf-8", errors="replace").strip() or None
    return None
