"""Property-based tests: whatever arrives, the proxy answers in OpenAI's error format, never
with a 500 or a stack trace, and never shows the upstream key."""

from __future__ import annotations

import email.policy
import json
from collections.abc import Iterator
from email.parser import BytesParser
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.store import GatewayStore
from groq_gateway_dev.devserver.routing import ApiRouter, ASGIApp
from groq_gateway_dev.devserver.template import ApiRoute, TemplateModel
from groq_gateway_dev.simulator import SimulatorConfig
from groq_gateway_dev.simulator import create_app as create_simulator
from tests.conftest import UPSTREAM_KEY
from tests.integration.conftest import gateway_settings
from tests.integration.test_proxy_limits_and_metering import add_key
from tests.reliability_report import RELIABILITY

PATHS = st.one_of(
    st.sampled_from(
        [
            "chat/completions",
            "responses",
            "models",
            "models/openai/gpt-oss-20b",
            "audio/transcriptions",
            "audio/speech",
            "files",
            "batches",
            "embeddings",
            "",
        ]
    ),
    st.text(max_size=40).map(lambda s: quote(s, safe="/")),
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
CHAT_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["openai/gpt-oss-20b", "unknown/model", ""]) | JSON_VALUES,
        "messages": st.just([{"role": "user", "content": "hi"}]) | JSON_VALUES,
        "stream": st.booleans() | JSON_VALUES,
        "max_tokens": st.integers(min_value=-5, max_value=5000) | JSON_VALUES,
        "stream_options": JSON_VALUES,
        "temperature": JSON_VALUES,
    },
)
BODIES = st.one_of(
    CHAT_BODIES.map(lambda d: json.dumps(d).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@pytest.fixture
def client(local_aws: dict[str, str], template: TemplateModel) -> Iterator[tuple[TestClient, str]]:
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    proxy = create_proxy_app(
        gateway_settings(local_aws), upstream_transport=httpx.ASGITransport(app=simulator)
    )
    routes: list[tuple[ApiRoute, ASGIApp]] = [
        (route, proxy)
        for function in template.functions()
        if function.code_uri.name == "proxy"
        for route in function.routes
    ]
    _, key = add_key(
        SimpleNamespace(store=GatewayStore(local_aws["GatewayTable"])),  # type: ignore[arg-type]
        requests_per_minute=100_000,
    )
    with TestClient(ApiRouter(routes), raise_server_exceptions=False) as test_client:
        yield test_client, key


def check(response: httpx.Response) -> None:
    assert response.status_code != 500, response.text
    assert response.status_code < 600
    text = response.text
    assert "Traceback" not in text
    assert UPSTREAM_KEY not in text
    assert all(UPSTREAM_KEY not in value for value in response.headers.values())
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["message"], str)
        assert error["message"]
        # Groq's own errors pass through unchanged; they carry a message and a type (and a
        # code only where Groq gives one).
        assert "type" in error


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=METHODS,
    path=PATHS,
    body=BODIES,
    authorised=st.booleans(),
    content_type=st.sampled_from(["application/json", "text/plain", "multipart/form-data"]),
)
def test_any_request_gets_a_clean_answer(
    client: tuple[TestClient, str],
    method: str,
    path: str,
    body: bytes,
    authorised: bool,
    content_type: str,
) -> None:
    test_client, key = client
    RELIABILITY.count_input("proxy: any method, path, body, content type and key")
    headers = {"content-type": content_type}
    if authorised:
        headers["authorization"] = f"Bearer {key}"
    check(test_client.request(method, f"/openai/v1/{path}", content=body, headers=headers))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorization=st.text(max_size=120))
def test_any_authorization_header_is_a_clean_401(
    client: tuple[TestClient, str], authorization: str
) -> None:
    test_client, _ = client
    RELIABILITY.count_input("proxy: any Authorization header")
    try:
        response = test_client.post(
            "/openai/v1/chat/completions",
            json={"model": "openai/gpt-oss-20b", "messages": []},
            headers={"authorization": authorization},
        )
    except (UnicodeEncodeError, httpx.LocalProtocolError):
        return  # not a header an HTTP client can send
    check(response)
    assert response.status_code == 401


# -- issue #18: multipart forms (finding 3), output limits (5), hostile JSON and headers (8) --

TURBO, LARGE = "whisper-large-v3-turbo", "whisper-large-v3"
FORM_NAMES = st.sampled_from(
    ["model", "Model", "MODEL", "model[]", "decoy", "prompt", "url", "language"]
)
MODELS = st.sampled_from([TURBO, LARGE, "other/model", f"{TURBO}\r\n{LARGE}", ""])
FILE_PART = b'Content-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n' + b"\0" * 64


@st.composite
def form_parts(draw: st.DrawFn, name: str, *, well_formed: bool) -> bytes:
    """One part, written the many ways a client (or an attacker) might; ``well_formed`` keeps
    to what RFC 7578 allows (decoys included: they are well formed)."""
    header = draw(
        st.sampled_from(["Content-Disposition", "content-disposition", "CONTENT-DISPOSITION"])
    )
    quotings = ['name="{}"', "name={}", 'NAME="{}"', 'name = "{}"']
    if not well_formed:
        quotings += ["name='{}'", 'name="{}"; name="model"', "name*=UTF-8''{}", "{}"]
    params = [draw(st.sampled_from(quotings)).format(name)]
    if draw(st.booleans()):
        params.append(draw(st.sampled_from(['filename="a.mp3"', 'x="name=\\"model\\""', "x=y"])))
    if draw(st.booleans()):
        params.reverse()
    lines = [f"{header}: form-data; " + "; ".join(params)]
    extra = ['X-Note: name="model"', "Content-Type: text/plain", f"X-Model: {LARGE}"]
    if not well_formed:
        extra += [" folded: yes", "Content-Transfer-Encoding: base64", "no colon"]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(extra)))
    if well_formed or draw(st.booleans()):
        content = draw(MODELS).encode()
    else:
        content = draw(st.binary(max_size=40))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


@st.composite
def multipart_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """Forms with decoy parts, repeated and differently cased model parts, odd quoting,
    unquoted names, mixed-case headers; half of them also malformed: missing or doubled
    boundaries, no closing boundary, folded or encoded parts."""
    well_formed = draw(st.booleans())
    boundary = draw(st.sampled_from(["b0und", "x-y_z", "a b"]))
    names = draw(st.lists(FORM_NAMES, max_size=4, unique_by=str.lower if well_formed else None))
    parts = [FILE_PART, *(draw(form_parts(name, well_formed=well_formed)) for name in names)]
    has_model = "model" in map(str.lower, names)
    if not (well_formed and has_model) and draw(st.booleans()):
        # The allowed model somewhere, which decoys try to shadow.
        model = f'Content-Disposition: form-data; name="model"\r\n\r\n{TURBO}'.encode()
        parts.insert(draw(st.integers(0, len(parts))), model)
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    endings = [f"--{boundary}--\r\n", f"--{boundary}--"]
    content_types = [
        f'multipart/form-data; boundary="{boundary}"',
        f'Multipart/Form-Data; BOUNDARY="{boundary}"',
    ]
    if " " not in boundary:
        content_types.append(f"multipart/form-data; boundary={boundary}")
    if not well_formed:
        endings += ["", f"--{boundary}", f"--{boundary}-"]
        content_types += [
            "multipart/form-data",
            f"multipart/form-data; boundary={boundary}; boundary=x",
        ]
    body = (
        draw(st.sampled_from([b"", b"preamble\r\n"]))
        + body
        + draw(st.sampled_from(endings)).encode()
    )
    return body, draw(st.sampled_from(content_types))


class RecordingUpstream:
    """The simulator, recording the raw bytes of every audio request it receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/openai/v1/audio"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        self.bodies.append((dict(scope["headers"]).get(b"content-type", b"").decode(), body))

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def model_parts(content_type: str, body: bytes) -> list[str]:
    """Every part named ``model`` in any case, as the standard library's (lenient) email
    parser reads a form: a second reader, independent of the gateway's."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    found = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name.lower() == "model":
            found.append(part.get_payload(decode=True).decode())
    return found


@pytest.fixture
def turbo_only(
    local_aws: dict[str, str], template: TemplateModel
) -> Iterator[tuple[TestClient, str, Any, RecordingUpstream]]:
    """The proxy with a key allowed only the turbo model, the simulator's request log and the
    raw bodies it received."""
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    upstream = RecordingUpstream(simulator)
    proxy = create_proxy_app(
        gateway_settings(local_aws), upstream_transport=httpx.ASGITransport(app=upstream)
    )
    _, key = add_key(
        SimpleNamespace(store=GatewayStore(local_aws["GatewayTable"])),  # type: ignore[arg-type]
        requests_per_minute=100_000,
        allowed_models=[TURBO],
    )
    with TestClient(proxy, raise_server_exceptions=False) as test_client:
        yield test_client, key, simulator.state.simulator, upstream


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=multipart_bodies(), path=st.sampled_from(["transcriptions", "translations"]))
def test_groq_receives_only_the_checked_allowed_audio_model(
    turbo_only: tuple[TestClient, str, Any, RecordingUpstream],
    form: tuple[bytes, str],
    path: str,
) -> None:
    """Whatever the form, Groq gets either nothing or a form naming exactly one model, the
    allowed one the gateway checked and priced."""
    test_client, key, simulator, upstream = turbo_only
    body, content_type = form
    RELIABILITY.count_money("multipart bodies generated")
    simulator.log.clear()
    upstream.bodies.clear()
    response = test_client.post(
        f"/openai/v1/audio/{path}",
        content=body,
        headers={"authorization": f"Bearer {key}", "content-type": content_type},
    )
    check(response)
    received = [entry for entry in simulator.log if entry["path"].startswith("/openai/v1/audio")]
    outcome = response.json()["error"]["message"] if response.status_code >= 400 else "served"
    event(f"{response.status_code}, forwarded {len(received)}: {outcome}")
    if response.status_code in (400, 403, 413):
        assert received == [] or response.json()["error"].get("code") is None  # Groq's own 400
    for entry in received:
        fields = entry["form"]["fields"]
        assert [name for name in fields if name.lower() == "model"] == ["model"]
        assert fields["model"] == TURBO
    assert len(upstream.bodies) == len(received)
    for forwarded_type, forwarded in upstream.bodies:  # the bytes themselves: one model part
        assert model_parts(forwarded_type, forwarded) == [TURBO]


TPM = 1000


@pytest.fixture
def tpm_client(local_aws: dict[str, str]) -> Iterator[tuple[TestClient, str]]:
    """The proxy with a key of 1,000 tokens per minute."""
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    proxy = create_proxy_app(
        gateway_settings(local_aws), upstream_transport=httpx.ASGITransport(app=simulator)
    )
    _, key = add_key(
        SimpleNamespace(store=GatewayStore(local_aws["GatewayTable"])),  # type: ignore[arg-type]
        requests_per_minute=100_000,
        tokens_per_minute=TPM,
    )
    with TestClient(proxy, raise_server_exceptions=False) as test_client:
        yield test_client, key


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limits=st.dictionaries(
        st.sampled_from(["max_completion_tokens", "max_tokens", "max_output_tokens"]),
        st.integers(min_value=1, max_value=3 * TPM),
        min_size=1,
    ),
    path=st.sampled_from(["responses", "chat/completions"]),
)
def test_the_largest_output_limit_is_what_is_reserved(
    tpm_client: tuple[TestClient, str], limits: dict[str, int], path: str
) -> None:
    """A key's tokens per minute cannot be stretched by a small limit in one field and a large
    one in another: a request is too large for the key (413) exactly when its prompt estimate
    and its largest output limit are."""
    test_client, key = tpm_client
    RELIABILITY.count_input("proxy: output-limit fields, any mix")
    body: dict[str, Any] = {"model": "openai/gpt-oss-20b", **limits}
    if path == "responses":
        body["input"] = "hi"
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
    raw = json.dumps(body).encode()
    response = test_client.post(
        f"/openai/v1/{path}",
        content=raw,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    check(response)
    too_large = -(-len(raw) // 4) + max(limits.values()) > TPM
    assert (response.status_code == 413) == too_large, (limits, response.text)


HOSTILE_JSON = st.sampled_from(
    [
        b'{"model": "openai/gpt-oss-20b", "messages": [], "stream": true, "stream_options": "x"}',
        b'{"model": "openai/gpt-oss-20b", "max_tokens": ' + b"9" * 5000 + b"}",
        b'{"model": "openai/gpt-oss-20b", "x": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        b'{"model": "openai/gpt-oss-20b", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"model": "openai/gpt-oss-120b", "model": "openai/gpt-oss-20b", "messages": []}',
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=HOSTILE_JSON,
    path=st.sampled_from(["chat/completions", "responses", "audio/speech"]),
    header=st.sampled_from([None, "content-type", "accept"]),
    odd=st.text(st.characters(min_codepoint=0x80, max_codepoint=0xFF), min_size=1, max_size=3),
)
def test_hostile_json_and_headers_are_a_clean_400(
    client: tuple[TestClient, str], body: bytes, path: str, header: str | None, odd: str
) -> None:
    test_client, key = client
    RELIABILITY.count_input("proxy: hostile JSON and non-ASCII headers")
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    if header is not None:
        headers[header] = "application/json" + odd
    response = test_client.post(
        f"/openai/v1/{path}",
        content=body,
        headers={k: v.encode("latin-1") for k, v in headers.items()},
    )
    check(response)
    assert response.status_code == 400
