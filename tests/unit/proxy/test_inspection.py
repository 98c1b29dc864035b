from __future__ import annotations

import json

import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.proxy.inspection import (
    DEFAULT_MAX_COMPLETION_TOKENS,
    JsonRequest,
    audio_seconds_estimate,
    multipart_model,
)


def body(**payload: object) -> bytes:
    return json.dumps({"model": "m", "messages": [], **payload}).encode()


def test_estimates_come_from_size_and_max_tokens() -> None:
    raw = body(max_tokens=50)
    request = JsonRequest.parse(raw)
    assert request.prompt_tokens_estimate == -(-len(raw) // 4)
    assert request.completion_tokens_limit == 50
    assert JsonRequest.parse(body(max_completion_tokens=70)).completion_tokens_limit == 70
    assert JsonRequest.parse(body()).completion_tokens_limit == DEFAULT_MAX_COMPLETION_TOKENS


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", "invalid_json"),
        (b'"text"', "invalid_json"),
        (b"{}", "missing_model"),
        (b'{"model": ""}', "missing_model"),
        (b'{"model": "m", "stream": "yes"}', "invalid_type"),
        (b'{"model": "m", "max_tokens": 0}', "invalid_value"),
    ],
)
def test_bad_bodies_are_400(raw: bytes, code: str) -> None:
    with pytest.raises(GatewayError) as error:
        JsonRequest.parse(raw).completion_tokens_limit  # noqa: B018 - the property validates
    assert error.value.status == 400
    assert error.value.code == code


def test_stream_usage_is_requested_only_when_the_client_did_not() -> None:
    plain = JsonRequest.parse(body(stream=True))
    asked = plain.with_stream_usage()
    assert json.loads(asked.body(b""))["stream_options"] == {"include_usage": True}
    wanted = JsonRequest.parse(body(stream=True, stream_options={"include_usage": True}))
    assert wanted.client_wants_usage
    original = body(stream=True, stream_options={"include_usage": True})
    assert wanted.with_stream_usage().body(original) == original
    not_streamed = JsonRequest.parse(body())
    assert not_streamed.with_stream_usage() is not_streamed


def test_alias_rewrites_only_the_model() -> None:
    raw = body(temperature=0.2)
    rewritten = json.loads(JsonRequest.parse(raw).with_model("other").body(raw))
    assert rewritten == {"model": "other", "messages": [], "temperature": 0.2}


def test_multipart_model_is_read_without_parsing_files() -> None:
    boundary = "XyZ"
    raw = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n'
            "Content-Type: audio/mpeg\r\n\r\n"
        ).encode()
        + b"\x00model\xff" * 10
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
            f"whisper-large-v3\r\n--{boundary}--\r\n"
        ).encode()
    )
    assert multipart_model(raw, f"multipart/form-data; boundary={boundary}") == "whisper-large-v3"
    assert multipart_model(raw, "multipart/form-data") is None


def test_audio_estimate_is_at_least_a_second() -> None:
    assert audio_seconds_estimate(10) == 1
    assert audio_seconds_estimate(25_000) == 25
