"""Deterministic content: token estimates, reply text, durations, audio and multipart forms."""

from __future__ import annotations

import io
import re
import uuid
import wave
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_COMPLETION_TOKENS = 16
# A prompt that says "reply in N words" gets an N-token reply (before any output limit), as a
# real model writes at length when asked to; other prompts get DEFAULT_COMPLETION_TOKENS.
_LENGTH_ASKED = re.compile(r"\breply in (\d{1,6}) words\b", re.IGNORECASE)
AUDIO_BYTES_PER_SECOND = 16_000
SPEECH_SAMPLE_RATE = 48_000


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def count_tokens(text: str) -> int:
    """About four characters a token, like the usual rule of thumb."""
    return (len(text) + 3) // 4


def text_of(content: Any) -> str:
    """The text of a message's `content`: a string, or a list of parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Text tokens plus 4 tokens of framing per message and 3 for the reply's priming."""
    return 3 + sum(4 + count_tokens(text_of(message.get("content"))) for message in messages)


def natural_length(prompt: str) -> int:
    """How many tokens the simulated model writes for ``prompt`` when nothing stops it."""
    asked = _LENGTH_ASKED.search(prompt)
    return int(asked.group(1)) if asked else DEFAULT_COMPLETION_TOKENS


def reply_words(prompt: str, count: int) -> list[str]:
    """`count` words (one token each) echoing the prompt, so tests can tell replies apart."""
    source = ["Simulated", "reply", "to:", *(prompt.split() or ["nothing"])]
    return [source[index % len(source)] for index in range(count)]


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """Chat completion usage with Groq's timing fields (seconds)."""
    prompt_time = round(prompt_tokens / 100_000, 6)
    completion_time = round(completion_tokens / 1_000, 6)
    return {
        "queue_time": 0.0002,
        "prompt_tokens": prompt_tokens,
        "prompt_time": prompt_time,
        "completion_tokens": completion_tokens,
        "completion_time": completion_time,
        "total_tokens": prompt_tokens + completion_tokens,
        "total_time": round(prompt_time + completion_time, 6),
    }


def format_duration(seconds: float, decimals: int = 2) -> str:
    """A Go-style duration, as in Groq's reset headers: `2m59.56s`, `7.66s`, `285ms`, `1h2m3s`."""

    def number(value: float) -> str:
        return f"{value:.{decimals}f}".rstrip("0").rstrip(".")

    millis = round(max(seconds, 0.0) * 1000, decimals)
    if millis < 1000:
        return f"{number(millis)}ms" if millis else "0s"
    seconds = round(seconds, decimals)
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    text = f"{int(hours)}h" if hours else ""
    text += f"{int(minutes)}m" if hours or minutes else ""
    return f"{text}{number(rest)}s"


def audio_duration(size: int) -> float:
    """Seconds of audio in an upload of `size` bytes (16 kB a second, at least 1 s)."""
    return max(1.0, round(size / AUDIO_BYTES_PER_SECOND, 2))


def url_audio_duration(url: str) -> float:
    """Seconds of audio at `url`: its `duration` query parameter (so a test can stand for a
    long recording: `https://example.com/talk.mp3?duration=36000`), else a minute."""
    values = parse_qs(urlsplit(url).query).get("duration")
    try:
        return max(1.0, float(values[0])) if values else 60.0
    except ValueError:
        return 60.0


def silent_wav(words: int) -> bytes:
    """A small valid WAV file: mono 16-bit silence, 20 ms a word, at most half a second."""
    seconds = min(0.5, 0.02 * max(words, 1))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(SPEECH_SAMPLE_RATE)
        audio.writeframes(b"\x00\x00" * int(SPEECH_SAMPLE_RATE * seconds))
    return buffer.getvalue()


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def parse_multipart(content_type: str, body: bytes) -> Form:
    """Parse `multipart/form-data` with the standard library (no python-multipart needed)."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    form = Form()
    if not message.is_multipart():
        return form
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        filename = part.get_filename()
        if filename is None:
            form.fields[name] = payload.decode("utf-8", errors="replace")
        else:
            form.files[name] = Upload(filename, payload)
    return form
