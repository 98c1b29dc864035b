from __future__ import annotations

import pytest

from groq_gateway.core.records import EndpointGroup
from groq_gateway.proxy.endpoints import resolve_endpoint


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "chat/completions", EndpointGroup.CHAT),
        ("POST", "responses", EndpointGroup.RESPONSES),
        ("GET", "models", EndpointGroup.MODELS),
        ("GET", "models/openai/gpt-oss-20b", EndpointGroup.MODELS),
        ("POST", "audio/transcriptions", EndpointGroup.AUDIO),
        ("POST", "audio/translations", EndpointGroup.AUDIO),
        ("POST", "audio/speech", EndpointGroup.AUDIO),
        ("GET", "files/file_01/content", EndpointGroup.FILES),
        ("POST", "batches/batch_01/cancel", EndpointGroup.BATCHES),
    ],
)
def test_known_endpoints_resolve(method: str, path: str, group: EndpointGroup) -> None:
    endpoint = resolve_endpoint(method, path)
    assert endpoint is not None
    assert endpoint.group is group


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "chat/completions"),
        ("POST", "api-keys"),
        ("POST", "chat/completions/../../admin"),
        ("GET", "models//x"),
        ("POST", "embeddings"),
        ("GET", "https://evil.example/models"),
    ],
)
def test_anything_else_is_not_forwarded(method: str, path: str) -> None:
    assert resolve_endpoint(method, path) is None
