"""The JSON bodies of one simulated answer: chat completion, its stream, Responses API object."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from .config import SimulatedModel
from .content import new_id, usage

SERVICE_TIER = "on_demand"
Json = dict[str, Any]


@dataclass
class Reply:
    """A deterministic answer: one word is one completion token."""

    model: SimulatedModel
    prompt_tokens: int
    words: list[str]
    truncated: bool
    """The reply stopped at the caller's token limit (`finish_reason: length`)."""
    limit: int | None = None
    """The caller's output token limit, which Groq's per-minute limit counts in full."""
    id: str = field(default_factory=lambda: new_id("chatcmpl-"))
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + len(self.words)

    @property
    def requested_tokens(self) -> int:
        """What the per-minute token limit counts: the prompt and the most the reply may be."""
        return self.prompt_tokens + max(len(self.words), self.limit or 0)

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def usage(self) -> Json:
        return usage(self.prompt_tokens, len(self.words))

    @property
    def finish_reason(self) -> str:
        return "length" if self.truncated else "stop"

    def _envelope(self, kind: str) -> Json:
        fingerprint = "fp_" + hashlib.sha256(self.model.id.encode()).hexdigest()[:10]
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model.id,
            "system_fingerprint": fingerprint,
        }

    def completion(self, request_id: str) -> Json:
        """The body of a non-streamed chat completion."""
        message = {"role": "assistant", "content": self.text}
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
        }
        return {
            **self._envelope("chat.completion"),
            "choices": [choice],
            "usage": self.usage,
            "service_tier": SERVICE_TIER,
            "x_groq": {"id": request_id},
        }

    def chunks(self, request_id: str, include_usage: bool) -> tuple[list[Json], list[Json]]:
        """A streamed chat completion: the body chunks (role, then one per word), then the
        closing ones (finish reason with `x_groq.usage`; with `include_usage`, a usage chunk)."""

        def chunk(delta: Json, finish_reason: str | None = None) -> Json:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**self._envelope("chat.completion.chunk"), "choices": [choice]}

        first = {**chunk({"role": "assistant", "content": ""}), "x_groq": {"id": request_id}}
        words = [
            chunk({"content": word if n == 0 else f" {word}"}) for n, word in enumerate(self.words)
        ]
        final = {**chunk({}, self.finish_reason), "x_groq": {"id": request_id, "usage": self.usage}}
        if not include_usage:
            return [first, *words], [final]
        usage_only = {**self._envelope("chat.completion.chunk"), "choices": [], "usage": self.usage}
        return [first, *words], [{**final, "usage": self.usage}, usage_only]

    def response(self, max_output_tokens: int | None) -> Json:
        """The body of a Responses API answer (`store` is always false on Groq)."""
        text = {"type": "output_text", "text": self.text, "annotations": [], "logprobs": []}
        message = {
            "type": "message",
            "id": new_id("msg_"),
            "status": "completed",
            "role": "assistant",
            "content": [text],
        }
        return {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": self.created,
            "status": "incomplete" if self.truncated else "completed",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if self.truncated else None,
            "model": self.model.id,
            "output": [message],
            "max_output_tokens": max_output_tokens,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "store": False,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "truncation": "disabled",
            "metadata": {},
            "service_tier": SERVICE_TIER,
            "usage": {
                "input_tokens": self.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": len(self.words),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.total_tokens,
            },
        }

    def response_events(self, response: Json) -> tuple[list[Json], list[Json]]:
        """A streamed Responses API answer: `response.created`, a text delta per word,
        then `response.completed` (or `response.incomplete`)."""
        in_progress = {**response, "status": "in_progress", "output": [], "usage": None}
        events: list[Json] = [{"type": "response.created", "response": in_progress}]
        item_id = response["output"][0]["id"]
        for n, word in enumerate(self.words):
            delta = word if n == 0 else f" {word}"
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": delta,
                }
            )
        done = "response.incomplete" if self.truncated else "response.completed"
        closing = [{"type": done, "response": response}]
        for number, event in enumerate([*events, *closing]):
            event["sequence_number"] = number
        return events, closing
