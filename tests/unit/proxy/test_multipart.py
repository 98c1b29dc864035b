"""multipart/form-data as the proxy reads and forwards it (issue #18, finding 3): one strict
reading, refused when ambiguous, and a body rewritten from it that any parser reads alike."""

from __future__ import annotations

import pytest

from groq_gateway.core.errors import GatewayError
from groq_gateway.proxy.multipart import Form, FormPart, parse_form
from groq_gateway_dev.simulator.content import parse_multipart

BOUNDARY = "XyZ"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part(disposition: str, content: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"Content-Disposition: {disposition}", *headers))
    return f"--{BOUNDARY}\r\n{head}\r\n".encode() + content + b"\r\n"


def form(*parts: bytes, close: bool = True) -> bytes:
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


AUDIO = part(
    'form-data; name="file"; filename="a.mp3"', b"\x00model\xff" * 10, "Content-Type: audio/mpeg"
)
# The bypass the issue found: a decoy part whose headers carry the text name="model" with
# the allowed model, then the real model part with an unquoted name.
DECOY_THEN_UNQUOTED = form(
    AUDIO,
    part('form-data; name="decoy"', b"whisper-large-v3-turbo", 'X-Note: name="model"'),
    part("form-data; name=model", b"whisper-large-v3"),
)


def test_the_model_is_the_part_named_model_not_text_in_another_part() -> None:
    parsed = parse_form(DECOY_THEN_UNQUOTED, CONTENT_TYPE)
    assert parsed.text("model") == "whisper-large-v3"
    assert [p.name for p in parsed.parts] == ["file", "decoy", "model"]
    assert parsed.named("file")[0].content == b"\x00model\xff" * 10


@pytest.mark.parametrize(
    ("raw", "content_type", "param"),
    [
        (
            form(AUDIO, part('form-data; name="model"', b"a"), part("form-data; name=model", b"b")),
            CONTENT_TYPE,
            "model",
        ),
        (
            form(part('form-data; name="Model"', b"a"), part('form-data; name="model"', b"b")),
            CONTENT_TYPE,
            "model",
        ),
        (form(AUDIO, part("form-data", b"x")), CONTENT_TYPE, "file"),  # no name
        (form(AUDIO, part('form-data; name=""', b"x")), CONTENT_TYPE, "file"),
        (form(AUDIO, part('form-data; name="mo\\\\del"', b"x")), CONTENT_TYPE, "file"),
        (form(AUDIO, part("form-data; name*=UTF-8''model", b"x")), CONTENT_TYPE, "file"),
        (form(AUDIO, part('form-data; name="a"; name="model"', b"x")), CONTENT_TYPE, "file"),
        (form(AUDIO, part('attachment; name="model"', b"x")), CONTENT_TYPE, "file"),
        (form(AUDIO, f"--{BOUNDARY}\r\nX-Other: 1\r\n\r\nx\r\n".encode()), CONTENT_TYPE, "file"),
        (form(AUDIO, part('form-data; name="model"', b"x"), close=False), CONTENT_TYPE, "file"),
        (
            form(part('form-data; name="model"', b"eA==", "Content-Transfer-Encoding: base64")),
            CONTENT_TYPE,
            "file",
        ),
        (
            form(part('form-data;\r\n name="model"', b"x")),  # a folded header line
            CONTENT_TYPE,
            "file",
        ),
        (form(AUDIO), "multipart/form-data", None),
        (form(AUDIO), f"multipart/form-data; boundary={BOUNDARY}; boundary=other", None),
        (form(AUDIO), "application/json", None),
        (b"no boundary here", CONTENT_TYPE, "file"),
        (f"--{BOUNDARY}garbage\r\n".encode(), CONTENT_TYPE, "file"),
    ],
    ids=[
        "model-twice",
        "model-in-two-cases",
        "no-name",
        "empty-name",
        "backslash-in-name",
        "extended-name",
        "name-twice-in-one-part",
        "not-form-data",
        "no-disposition",
        "no-closing-boundary",
        "transfer-encoding",
        "folded-header",
        "no-boundary-parameter",
        "two-boundaries",
        "not-multipart",
        "no-part",
        "garbage-after-boundary",
    ],
)
def test_ambiguous_or_malformed_forms_are_a_400(
    raw: bytes, content_type: str, param: str | None
) -> None:
    with pytest.raises(GatewayError) as error:
        parse_form(raw, content_type)
    assert (error.value.status, error.value.type, error.value.param) == (
        400,
        "invalid_request_error",
        param,
    )


def test_preamble_epilogue_padding_and_quoted_boundaries_are_read() -> None:
    raw = b"preamble\r\n" + form(AUDIO, part('form-data; name="model"', b"m")) + b"epilogue"
    raw = raw.replace(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"'.encode(),
        f'--{BOUNDARY} \t\r\nContent-Disposition: form-data; name="model"'.encode(),
    )
    parsed = parse_form(raw, f'Multipart/Form-Data ; charset=utf-8; BOUNDARY="{BOUNDARY}"')
    assert parsed.text("model") == "m"
    assert parsed.named("file")[0].filename == "a.mp3"


def test_arrays_may_repeat_other_fields_may_not() -> None:
    raw = form(
        part('form-data; name="timestamp_granularities[]"', b"word"),
        part('form-data; name="timestamp_granularities[]"', b"segment"),
    )
    assert len(parse_form(raw, CONTENT_TYPE).named("timestamp_granularities[]")) == 2
    with pytest.raises(GatewayError):
        parse_form(form(AUDIO, AUDIO), CONTENT_TYPE)
    beside = form(part('form-data; name="model"', b"a"), part('form-data; name="model[]"', b"b"))
    with pytest.raises(GatewayError) as error:
        parse_form(beside, CONTENT_TYPE)
    assert error.value.param == "model"


def test_a_text_field_must_be_text() -> None:
    parsed = parse_form(form(part('form-data; name="model"; filename="m.txt"', b"m")), CONTENT_TYPE)
    with pytest.raises(GatewayError):
        parsed.text("model")
    parsed = parse_form(form(part('form-data; name="model"', b"\xff")), CONTENT_TYPE)
    with pytest.raises(GatewayError):
        parsed.text("model")


def test_the_rewritten_body_reads_the_same_to_another_parser() -> None:
    """What Groq receives is what was checked: the simulator's parser (the standard
    library's email parser, as lenient as a server's) reads the forwarded body exactly as
    the gateway did, the decoy included but only as a decoy."""
    parsed = parse_form(DECOY_THEN_UNQUOTED, CONTENT_TYPE).with_text("response_format", "text")
    body, content_type = parsed.encode()
    assert parse_form(body, content_type) == parsed
    other = parse_multipart(content_type, body)
    assert other.fields == {
        "decoy": "whisper-large-v3-turbo",
        "model": "whisper-large-v3",
        "response_format": "text",
    }
    assert other.files["file"].content == b"\x00model\xff" * 10
    assert other.files["file"].filename == "a.mp3"


def test_names_and_file_names_cannot_break_out_of_their_quotes() -> None:
    hostile = 'a.mp3"; name="model\\'
    written = Form((FormPart("file", b"x", filename=hostile, content_type="audio/mpeg"),))
    body, content_type = written.encode()
    [again] = parse_form(body, content_type).parts
    assert again.name == "file"
    assert again.filename == "a.mp3%22; name=%22model%5C"
    assert parse_multipart(content_type, body).fields == {}


def test_with_text_replaces_or_adds_one_field() -> None:
    parsed = parse_form(form(part('form-data; name="response_format"', b"json")), CONTENT_TYPE)
    assert parsed.with_text("response_format", "verbose_json").text("response_format") == (
        "verbose_json"
    )
    assert parsed.with_text("model", "m").text("model") == "m"
    assert len(parsed.with_text("model", "m").parts) == 2


def test_a_parts_content_type_is_forwarded_as_its_media_type_alone() -> None:
    raw = form(
        part(
            'form-data; name="file"; filename="a.ogg"',
            b"x",
            'Content-Type: audio/ogg; codecs=opus; name="model"',
        )
    )
    [forwarded] = parse_form(*parse_form(raw, CONTENT_TYPE).encode()).parts
    assert forwarded.content_type == "audio/ogg"
    with pytest.raises(GatewayError):
        parse_form(form(part('form-data; name="file"', b"x", "Content-Type: audio")), CONTENT_TYPE)
