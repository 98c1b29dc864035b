from __future__ import annotations

import json

import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.proxy.inspection import (
    DEFAULT_MAX_COMPLETION_TOKENS,
    JsonRequest,
    audio_seconds_estimate,
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


def test_audio_estimate_is_at_least_a_second() -> None:
    assert audio_seconds_estimate(10) == 1
    assert audio_seconds_estimate(25_000) == 25


# -- issue #18, finding 5: every output-limit field counts ------------------------------------


@pytest.mark.parametrize(
    ("fields", "limit"),
    [
        ({"max_completion_tokens": 1, "max_output_tokens": 6000}, 6000),
        ({"max_output_tokens": 1, "max_completion_tokens": 6000}, 6000),
        ({"max_tokens": 10, "max_completion_tokens": 20, "max_output_tokens": 30}, 30),
        ({"max_tokens": 300, "max_completion_tokens": None}, 300),
        ({"max_output_tokens": 5}, 5),
    ],
)
def test_the_output_limit_is_the_largest_field_present(
    fields: dict[str, object], limit: int
) -> None:
    assert JsonRequest.parse(body(**fields)).completion_tokens_limit == limit


@pytest.mark.parametrize("value", [6000.0, "6000", True, [6000]])
def test_an_output_limit_that_is_not_an_integer_is_refused(value: object) -> None:
    """Otherwise the default (1,024) would be reserved while Groq might read 6,000."""
    with pytest.raises(GatewayError) as error:
        JsonRequest.parse(body(max_output_tokens=value)).completion_tokens_limit  # noqa: B018
    assert (error.value.status, error.value.param) == (400, "max_output_tokens")


# -- issue #18, finding 8: bad input is a 400, never a 500 ------------------------------------

DEEP_OBJECTS = b'{"model": "m", "x": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001
DEEP_ARRAYS = b'{"model": "m", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"model": "m", "stream": true, "stream_options": "x"}', "stream_options"),
        (b'{"model": "m", "stream_options": 5}', "stream_options"),
        (b'{"model": "m", "max_tokens": ' + b"9" * 5000 + b"}", None),
        (DEEP_OBJECTS, None),
        (DEEP_ARRAYS, None),
        (b'{"model": "allowed", "model": "other"}', "model"),
    ],
    ids=[
        "stream_options-text",
        "stream_options-number",
        "5000-digits",
        "deep-objects",
        "deep-arrays",
        "model-twice",
    ],
)
def test_hostile_json_is_a_400(raw: bytes, param: str | None) -> None:
    with pytest.raises(GatewayError) as error:
        JsonRequest.parse(raw).with_stream_usage()
    assert (error.value.status, error.value.param) == (400, param)
    assert error.value.code in {"invalid_json", "invalid_type"}
