"""Reading Groq's usage out of a response while it passes through, byte for byte: a tap sees
every upstream chunk, returns what the client should receive and remembers the usage.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# A non-streamed body is kept (for its usage) up to this size; beyond it, it passes on
# unparsed and is metered from the estimate.
MAX_JSON_BODY = 4 * 1024 * 1024


@dataclass
class ObservedUsage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    audio_seconds: Decimal | None = None
    # Characters of generated text seen (for estimating a stream cut off before its usage).
    content_chars: int = 0
    # A stream reached ``data: [DONE]`` (or a responses stream its completed event).
    finished: bool = False

    @property
    def has_tokens(self) -> bool:
        return self.prompt_tokens is not None and self.completion_tokens is not None

    def take_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if isinstance(prompt, int) and isinstance(completion, int):
            self.prompt_tokens, self.completion_tokens = prompt, completion


def _content_chars(payload: dict[str, Any]) -> int:
    total = 0
    for choice in payload.get("choices") or []:
        if isinstance(choice, dict):
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str):
                total += len(content)
    delta = payload.get("delta")  # responses stream: response.output_text.delta
    if isinstance(delta, str):
        total += len(delta)
    return total


class JsonTap:
    """A non-streamed body: ``usage`` (chat), ``usage`` with ``input_tokens`` /
    ``output_tokens`` (responses), or ``duration`` (verbose audio)."""

    def __init__(self) -> None:
        self.observed = ObservedUsage()
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size <= MAX_JSON_BODY:
            self._parts.append(chunk)
        return chunk

    def finish(self) -> bytes:
        if self._size > MAX_JSON_BODY:
            return b""
        try:
            payload = json.loads(b"".join(self._parts))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return b""
        if isinstance(payload, dict):
            self.observed.take_usage(payload.get("usage"))
            if not self.observed.has_tokens:
                x_groq = payload.get("x_groq")
                if isinstance(x_groq, dict):
                    self.observed.take_usage(x_groq.get("usage"))
            duration = payload.get("duration")
            if isinstance(duration, int | float | str) and not isinstance(duration, bool):
                with contextlib.suppress(InvalidOperation):
                    self.observed.audio_seconds = Decimal(str(duration))
            self.observed.finished = True
        return b""


class SseTap:
    """A server-sent-event stream: the final chunk's ``usage`` or ``x_groq.usage``, or a
    responses stream's ``response.usage``. Events pass on as soon as they are complete. With
    ``strip_usage`` it removes the usage the gateway asked for on the client's behalf: the
    usage-only chunk (``choices: []``) is dropped and ``usage`` removed from other chunks.

    Example::

        tap = SseTap(strip_usage=False)
        for chunk in upstream_chunks:
            send(tap.feed(chunk))
        send(tap.finish())
        tap.observed.prompt_tokens
    """

    def __init__(self, *, strip_usage: bool) -> None:
        self.observed = ObservedUsage()
        self.strip_usage = strip_usage
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        self._pending += chunk
        out: list[bytes] = []
        while True:
            end = self._pending.find(b"\n\n")
            if end < 0:
                break
            event, self._pending = self._pending[: end + 2], self._pending[end + 2 :]
            out.append(self._event(event))
        return b"".join(out)

    def finish(self) -> bytes:
        rest, self._pending = self._pending, b""
        return self._event(rest) if rest.strip() else rest

    def _event(self, event: bytes) -> bytes:
        lines = event.split(b"\n")
        data = [line[5:].lstrip() for line in lines if line.startswith(b"data:")]
        if not data:
            return event
        raw = b"\n".join(data)
        if raw.strip() == b"[DONE]":
            self.observed.finished = True
            return event
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return event
        if not isinstance(payload, dict):
            return event
        self.observed.content_chars += _content_chars(payload)
        self.observed.take_usage(payload.get("usage"))
        x_groq = payload.get("x_groq")
        if isinstance(x_groq, dict):
            self.observed.take_usage(x_groq.get("usage"))
        response = payload.get("response")
        if isinstance(response, dict):
            self.observed.take_usage(response.get("usage"))
            if payload.get("type") == "response.completed":
                self.observed.finished = True
        if not self.strip_usage or "usage" not in payload:
            return event
        if payload.get("choices") == []:
            return b""
        del payload["usage"]
        others = [line for line in lines if line and not line.startswith(b"data:")]
        return b"\n".join([*others, b"data: " + json.dumps(payload).encode()]) + b"\n\n"
