"""Reading Groq's usage out of a response while it passes through, byte for byte: a tap sees
every upstream chunk, returns what the client should receive and remembers the usage.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from groq_gateway.proxy.inspection import BYTES_PER_TOKEN

# A non-streamed body is kept (for its usage) up to this size; beyond it, only its first and
# last SCAN_BYTES are: Groq writes ``duration`` near the start and ``usage`` at the end.
MAX_JSON_BODY = 4 * 1024 * 1024
SCAN_BYTES = 64 * 1024
# A key at the top of an object: after `{` or `,`, which inside a JSON string can never come
# right before an unescaped quote, so text a model wrote cannot forge it.
_USAGE_KEY = re.compile(rb'[{,]\s*"usage"\s*:\s*')
_DURATION_KEY = re.compile(rb'[{,]\s*"duration"\s*:\s*(-?[0-9][0-9.eE+-]*)')


@dataclass
class ObservedUsage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    audio_seconds: Decimal | None = None
    # Characters of generated text seen (for estimating a stream cut off before its usage).
    content_chars: int = 0
    # Stream events that carried generated text (content, reasoning, tool arguments): Groq
    # streams one token an event, so at least this many tokens were relayed.
    content_events: int = 0
    # Groq said the generation ended (a choice's finish_reason): nothing more was generated.
    generation_ended: bool = False
    # A stream reached ``data: [DONE]`` (or a responses stream its completed event).
    finished: bool = False

    def relayed_tokens(self, limit: int | None = None) -> int:
        """Tokens of generated text relayed, estimated: four characters a token (no more than
        ``limit``, what the request allowed), and never fewer than the events that carried
        text (each carried at least one token)."""
        by_chars = math.ceil(self.content_chars / BYTES_PER_TOKEN)
        return max(self.content_events, by_chars if limit is None else min(by_chars, limit))

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


def _generated_chars(payload: dict[str, Any]) -> tuple[int, bool]:
    """Characters of generated text in one stream event, and whether a choice finished."""
    total = 0
    ended = False
    choices = payload.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict):
            continue
        ended = ended or choice.get("finish_reason") is not None
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            continue
        for name in ("content", "reasoning"):
            text = delta.get(name)
            if isinstance(text, str):
                total += len(text)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            arguments = function.get("arguments") if isinstance(function, dict) else None
            if isinstance(arguments, str):
                total += len(arguments)
    delta = payload.get("delta")  # responses stream: response.*.delta events
    if isinstance(delta, str):
        total += len(delta)
    return total, ended


class JsonTap:
    """A non-streamed body: ``usage`` (chat), ``usage`` with ``input_tokens`` /
    ``output_tokens`` (responses), or ``duration`` (verbose audio)."""

    def __init__(self) -> None:
        self.observed = ObservedUsage()
        self._parts: list[bytes] = []
        self._size = 0
        self._head = b""
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size <= MAX_JSON_BODY:
            self._parts.append(chunk)
        elif self._parts:  # past the limit: keep only the head and the tail from here on
            whole = b"".join([*self._parts, chunk])
            self._parts = []
            self._head, self._tail = whole[:SCAN_BYTES], whole[-SCAN_BYTES:]
        else:
            self._tail = (self._tail + chunk)[-SCAN_BYTES:]
        return chunk

    def finish(self) -> bytes:
        if self._size > MAX_JSON_BODY:
            self._scan_large_body()
            return b""
        try:
            payload = json.loads(b"".join(self._parts))
        except ValueError:
            self._estimate_from_size()
            return b""
        if not isinstance(payload, dict):
            self._estimate_from_size()
        else:
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
            if not self.observed.has_tokens:
                self._estimate_from_size()
        return b""

    def _scan_large_body(self) -> None:
        """Usage and duration of a body too large to keep: the last top-level-looking
        ``"usage": {...}`` in its tail, the first ``"duration"`` in its head; without them,
        the body's size as the estimate."""
        decoder = json.JSONDecoder()
        for match in reversed(list(_USAGE_KEY.finditer(self._tail))):
            text = self._tail[match.end() :].decode("utf-8", errors="replace")
            with contextlib.suppress(ValueError):
                usage, _ = decoder.raw_decode(text)
                self.observed.take_usage(usage)
            if self.observed.has_tokens:
                break
        found = _DURATION_KEY.search(self._head)
        if found:
            with contextlib.suppress(InvalidOperation):
                self.observed.audio_seconds = Decimal(found.group(1).decode())
        self.observed.finished = True
        if not self.observed.has_tokens:
            self._estimate_from_size()

    def _estimate_from_size(self) -> None:
        """No usage in a whole body: every byte of it may be generated text."""
        self.observed.content_chars = self._size
        self.observed.generation_ended = True


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
        chars, ended = _generated_chars(payload)
        self.observed.content_chars += chars
        self.observed.content_events += chars > 0
        self.observed.generation_ended = self.observed.generation_ended or ended
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
