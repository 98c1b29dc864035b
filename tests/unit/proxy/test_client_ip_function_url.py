"""The caller's address as the Lambda Web Adapter hands it over in either front door: API
Gateway REST (payload 1.0, ``identity.sourceIp``) and a Lambda function URL (payload 2.0,
``http.sourceIp``). ``allowed_cidrs`` is checked against it, so the adapter's TCP peer
(127.0.0.1 inside Lambda) must never stand in for a real caller."""

from __future__ import annotations

import json

from groq_gateway.core.web import client_ip

LWA_PEER = "127.0.0.1"


def test_a_function_url_request_gives_the_callers_address() -> None:
    context = {
        "accountId": "anonymous",
        "domainName": "abc.lambda-url.us-east-1.on.aws",
        "http": {
            "method": "POST",
            "path": "/openai/v1/chat/completions",
            "sourceIp": "203.0.113.7",
        },
        "requestId": "r-1",
    }
    headers = {"x-amzn-request-context": json.dumps(context)}
    assert client_ip(headers, LWA_PEER) == "203.0.113.7"


def test_an_api_gateway_request_still_gives_the_callers_address() -> None:
    context = {"identity": {"sourceIp": "198.51.100.9"}, "http": {"sourceIp": "10.0.0.1"}}
    headers = {"x-amzn-request-context": json.dumps(context)}
    assert client_ip(headers, LWA_PEER) == "198.51.100.9"


def test_a_context_without_an_address_falls_back_to_the_peer() -> None:
    for context in ('{"http": {}}', '{"http": "x"}', "[]", "not json"):
        assert client_ip({"x-amzn-request-context": context}, LWA_PEER) == LWA_PEER
