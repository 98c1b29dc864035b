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
# max_completion_tokens / max_tokens / max_output_tokens, else the default. Audio uploads: a
# second per 1,000 bytes (8 kbit/s, below any speech codec's bitrate).
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
