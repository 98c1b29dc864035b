from __future__ import annotations

import json

from groq_gateway.proxy.usage_tap import MAX_JSON_BODY, JsonTap, SseTap


def sse(*payloads: object) -> bytes:
    return b"".join(
        b"data: " + (p if isinstance(p, bytes) else json.dumps(p).encode()) + b"\n\n"
        for p in payloads
    )


CHUNKS = [
    {"choices": [{"delta": {"role": "assistant", "content": ""}}], "x_groq": {"id": "req_1"}},
    {"choices": [{"delta": {"content": "Hello"}}]},
    {"choices": [{"delta": {"content": " world"}}]},
    {
        "choices": [{"delta": {}, "finish_reason": "stop"}],
        "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 12, "completion_tokens": 2}},
        "usage": {"prompt_tokens": 12, "completion_tokens": 2},
    },
    {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2}},
    b"[DONE]",
]


def run(tap: SseTap, data: bytes, step: int) -> bytes:
    out = b"".join(tap.feed(data[i : i + step]) for i in range(0, len(data), step))
    return out + tap.finish()


def test_usage_is_read_whatever_the_chunk_boundaries() -> None:
    data = sse(*CHUNKS)
    for step in (1, 7, 64, len(data)):
        tap = SseTap(strip_usage=False)
        assert run(tap, data, step) == data
        assert (tap.observed.prompt_tokens, tap.observed.completion_tokens) == (12, 2)
        assert tap.observed.finished
        assert tap.observed.content_chars == len("Hello world")


def test_stripping_removes_only_what_the_gateway_asked_for() -> None:
    tap = SseTap(strip_usage=True)
    out = run(tap, sse(*CHUNKS), 5)
    events = [e for e in out.decode().split("\n\n") if e]
    payloads = [e.removeprefix("data: ") for e in events]
    assert payloads[-1] == "[DONE]"
    decoded = [json.loads(p) for p in payloads[:-1]]
    assert len(decoded) == 4  # the usage-only chunk is gone
    assert all("usage" not in d for d in decoded)
    assert decoded[-1]["x_groq"]["usage"]["completion_tokens"] == 2  # Groq's own field stays
    assert (tap.observed.prompt_tokens, tap.observed.completion_tokens) == (12, 2)


def test_a_cut_stream_is_not_finished_and_counts_what_arrived() -> None:
    tap = SseTap(strip_usage=False)
    run(tap, sse(*CHUNKS[:3])[:-5], 10)
    assert not tap.observed.finished
    assert not tap.observed.has_tokens
    assert tap.observed.content_chars == len("Hello")


def test_responses_stream_usage() -> None:
    tap = SseTap(strip_usage=False)
    data = (
        b"event: response.output_text.delta\n"
        + b'data: {"type": "response.output_text.delta", "delta": "Hi"}\n\n'
        + b"event: response.completed\n"
        + b'data: {"type": "response.completed", "response": {"usage": '
        + b'{"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}}}\n\n'
    )
    assert run(tap, data, 9) == data
    assert (tap.observed.prompt_tokens, tap.observed.completion_tokens) == (5, 1)
    assert tap.observed.finished


def test_json_tap_reads_usage_and_audio_duration() -> None:
    tap = JsonTap()
    body = json.dumps({"usage": {"prompt_tokens": 3, "completion_tokens": 4}}).encode()
    assert tap.feed(body[:5]) + tap.feed(body[5:]) + tap.finish() == body
    assert (tap.observed.prompt_tokens, tap.observed.completion_tokens) == (3, 4)
    audio = JsonTap()
    audio.feed(json.dumps({"text": "hi", "duration": 12.5}).encode())
    audio.finish()
    assert str(audio.observed.audio_seconds) == "12.5"
    broken = JsonTap()
    broken.feed(b"{not json")
    broken.finish()
    assert not broken.observed.has_tokens


# -- issue #18, finding 12: a body too large to keep still has its usage read -----------------


def large_completion(content: str, usage: object) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": usage,
            "x_groq": {"id": "req_1"},
        }
    ).encode()


def feed_in_chunks(tap: JsonTap, body: bytes, step: int = 65_536) -> bytes:
    out = b"".join(tap.feed(body[i : i + step]) for i in range(0, len(body), step))
    return out + tap.finish()


def test_usage_is_read_from_the_tail_of_a_body_over_the_limit() -> None:
    usage = {"prompt_tokens": 30, "completion_tokens": 1_200_000, "total_tokens": 1_200_030}
    body = large_completion("word " * (MAX_JSON_BODY // 4), usage)
    assert len(body) > MAX_JSON_BODY
    tap = JsonTap()
    assert feed_in_chunks(tap, body) == body
    assert (tap.observed.prompt_tokens, tap.observed.completion_tokens) == (30, 1_200_000)


def test_text_a_model_wrote_cannot_pass_for_the_usage() -> None:
    forged = ',"usage": {"prompt_tokens": 1, "completion_tokens": 1}} ' * 1000
    body = large_completion(
        "x" * MAX_JSON_BODY + forged, {"prompt_tokens": 7, "completion_tokens": 9}
    )
    tap = JsonTap()
    feed_in_chunks(tap, body, step=1_000_003)
    assert (tap.observed.prompt_tokens, tap.observed.completion_tokens) == (7, 9)


def test_a_large_body_without_usage_is_estimated_from_its_size() -> None:
    body = large_completion("x" * MAX_JSON_BODY, None)
    tap = JsonTap()
    feed_in_chunks(tap, body)
    assert not tap.observed.has_tokens
    assert tap.observed.relayed_tokens() == -(-len(body) // 4)
    assert tap.observed.generation_ended


def test_the_duration_of_a_large_verbose_transcript_is_read_from_its_head() -> None:
    segments = [{"id": i, "text": "words " * 20} for i in range(40_000)]
    body = json.dumps({"task": "transcribe", "duration": 36000.5, "segments": segments}).encode()
    assert len(body) > MAX_JSON_BODY
    tap = JsonTap()
    feed_in_chunks(tap, body)
    assert str(tap.observed.audio_seconds) == "36000.5"


# -- issue #18, finding 11: what a cut stream relayed, counted ---------------------------------


def test_a_stream_counts_the_events_that_carried_generated_text() -> None:
    events = [
        {"choices": [{"delta": {"role": "assistant", "content": ""}}]},
        *({"choices": [{"delta": {"reasoning": "th"}}]} for _ in range(3)),
        *({"choices": [{"delta": {"content": "a"}}]} for _ in range(150)),
        {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": '{"q"'}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    ]
    tap = SseTap(strip_usage=False)
    run(tap, sse(*events), 100)
    assert tap.observed.content_events == 154
    assert tap.observed.relayed_tokens() == 154  # one token an event, not 160 characters / 4
    assert tap.observed.relayed_tokens(limit=10) == 154
    assert tap.observed.generation_ended
    assert not tap.observed.finished
    cut = SseTap(strip_usage=False)
    run(cut, sse(*events[:10]), 100)
    assert not cut.observed.generation_ended
