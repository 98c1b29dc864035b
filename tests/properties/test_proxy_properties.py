"""Property-based tests: whatever arrives, the proxy answers in OpenAI's error format, never
with a 500 or a stack trace, and never shows the upstream key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
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
