"""The upstream endpoints the proxy forwards, and nothing else: any other path under
``/openai/v1/`` is a 404 here, so the proxy never reaches an arbitrary path or host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from groq_gateway.core.records import EndpointGroup


@dataclass(frozen=True)
class Endpoint:
    group: EndpointGroup
    method: str
    pattern: re.Pattern[str]
    # True where the body is JSON that names a model to check against the allowlist.
    json_model: bool = False


_ID = r"[A-Za-z0-9._:/-]+"
_ENDPOINTS = (
    Endpoint(EndpointGroup.CHAT, "POST", re.compile(r"chat/completions"), json_model=True),
    Endpoint(EndpointGroup.RESPONSES, "POST", re.compile(r"responses"), json_model=True),
    Endpoint(EndpointGroup.MODELS, "GET", re.compile(r"models")),
    Endpoint(EndpointGroup.MODELS, "GET", re.compile(rf"models/{_ID}")),
    Endpoint(EndpointGroup.AUDIO, "POST", re.compile(r"audio/(transcriptions|translations)")),
    Endpoint(EndpointGroup.AUDIO, "POST", re.compile(r"audio/speech"), json_model=True),
    Endpoint(EndpointGroup.FILES, "GET", re.compile(rf"files(/{_ID}(/content)?)?")),
    Endpoint(EndpointGroup.FILES, "POST", re.compile(r"files")),
    Endpoint(EndpointGroup.FILES, "DELETE", re.compile(rf"files/{_ID}")),
    Endpoint(EndpointGroup.BATCHES, "GET", re.compile(rf"batches(/{_ID})?")),
    Endpoint(EndpointGroup.BATCHES, "POST", re.compile(rf"batches(/{_ID}/cancel)?")),
)


def resolve_endpoint(method: str, path: str) -> Endpoint | None:
    """The endpoint for ``method`` and ``path`` (relative to ``/openai/v1/``), or ``None``."""
    if ".." in path or "//" in path:
        return None
    for endpoint in _ENDPOINTS:
        if endpoint.method == method and endpoint.pattern.fullmatch(path):
            return endpoint
    return None
