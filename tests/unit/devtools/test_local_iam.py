"""The local copy of API Gateway's AWS_IAM check: SigV4 signatures made by botocore (as the CLI,
awscurl and the AWS SDKs make them) verified against the local credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from groq_gateway_dev.devserver.iam import (
    INCOMPLETE_SIGNATURE,
    INVALID_SIGNATURE,
    LOCAL_IAM,
    MISSING_AUTHENTICATION_TOKEN,
    SignatureRefused,
    SignedRequest,
)

URL = "http://127.0.0.1:3000/iam/openai/v1/api-keys?team=chatbot&limit=5"
BODY = b'{"name": "chatbot-prod", "requests_per_minute": 500}'


def sign(
    method: str = "POST",
    url: str = URL,
    body: bytes = BODY,
    *,
    access_key: str = LOCAL_IAM.access_key_id,
    secret: str = LOCAL_IAM.secret_access_key,
    region: str = LOCAL_IAM.region,
    service: str = "execute-api",
    headers: dict[str, str] | None = None,
) -> SignedRequest:
    """A request signed now by botocore, with every header it would send."""
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={"host": "127.0.0.1:3000", "content-type": "application/json", **(headers or {})},
    )
    SigV4Auth(Credentials(access_key, secret), service, region).add_auth(request)
    return SignedRequest(method, url, list(request.headers.items()), body)


def refusal(request: SignedRequest, now: datetime | None = None) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as raised:
        LOCAL_IAM.verify(request, now=now or datetime.now(UTC))
    return raised.value


def replace_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    """The request with header ``name`` set to ``value`` (``None``: removed)."""
    kept = [(key, old) for key, old in request.headers if key.lower() != name]
    added = [] if value is None else [(name, value)]
    return SignedRequest(request.method, request.url, [*kept, *added], request.body)


def test_a_good_signature_is_accepted_with_its_query_headers_and_body() -> None:
    LOCAL_IAM.verify(sign(), now=datetime.now(UTC))
    LOCAL_IAM.verify(sign("GET", URL.partition("?")[0], b""), now=datetime.now(UTC))
    # Headers that were not signed may come and go (proxies add some).
    extra = sign()
    extra = SignedRequest(extra.method, extra.url, [*extra.headers, ("accept", "*/*")], BODY)
    LOCAL_IAM.verify(extra, now=datetime.now(UTC))


def test_a_temporary_credentials_token_is_signed_along() -> None:
    request = AWSRequest(method="GET", url=URL, headers={"host": "127.0.0.1:3000"})
    credentials = Credentials(LOCAL_IAM.access_key_id, LOCAL_IAM.secret_access_key, "session")
    SigV4Auth(credentials, "execute-api", LOCAL_IAM.region).add_auth(request)
    signed = SignedRequest("GET", URL, list(request.headers.items()), b"")
    LOCAL_IAM.verify(signed, now=datetime.now(UTC))
    swapped = replace_header(signed, "x-amz-security-token", "another-session")
    assert refusal(swapped).response_type == INVALID_SIGNATURE


def test_a_wrong_secret_is_refused() -> None:
    refused = refusal(sign(secret="not-the-local-secret"))
    assert refused.response_type == INVALID_SIGNATURE
    assert "signature we calculated does not match" in refused.message
    assert "not-the-local-secret" not in refused.message


def test_an_unknown_access_key_is_refused() -> None:
    refused = refusal(sign(access_key="AKIAOTHERUSER0000000"))
    assert refused.response_type == INVALID_SIGNATURE
    assert "security token" in refused.message


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", URL, b'{"name": "chatbot-prod", "requests_per_minute": 50000}'),
        ("PATCH", URL, BODY),
        ("POST", URL.replace("limit=5", "limit=6"), BODY),
        ("POST", URL.replace("/api-keys", "/admin-keys"), BODY),
    ],
)
def test_a_tampered_request_is_refused(method: str, url: str, body: bytes) -> None:
    tampered = SignedRequest(method, url, sign().headers, body)
    assert refusal(tampered).response_type == INVALID_SIGNATURE


def test_a_tampered_signed_header_is_refused() -> None:
    tampered = replace_header(sign(), "content-type", "text/plain")
    assert refusal(tampered).response_type == INVALID_SIGNATURE


def test_a_content_hash_header_must_be_the_bodys() -> None:
    """botocore takes a client's X-Amz-Content-SHA256 as the body's hash, so a signature over
    a stated hash must not cover another body."""
    stated = "0" * 64
    request = sign(headers={"x-amz-content-sha256": stated})
    refused = refusal(request)
    assert refused.response_type == INVALID_SIGNATURE
    assert "X-Amz-Content-SHA256" in refused.message


def test_a_stale_or_future_date_is_refused_beyond_five_minutes() -> None:
    request = sign()
    LOCAL_IAM.verify(request, now=datetime.now(UTC) + timedelta(minutes=4))
    LOCAL_IAM.verify(request, now=datetime.now(UTC) - timedelta(minutes=4))
    stale = refusal(request, now=datetime.now(UTC) + timedelta(minutes=6))
    assert stale.response_type == INVALID_SIGNATURE
    assert stale.message.startswith("Signature expired")
    early = refusal(request, now=datetime.now(UTC) - timedelta(minutes=6))
    assert early.message.startswith("Signature not yet current")


def test_a_request_without_any_signature_is_missing_authentication() -> None:
    unsigned = replace_header(sign(), "authorization", None)
    assert refusal(unsigned).response_type == MISSING_AUTHENTICATION_TOKEN


def test_a_bearer_key_is_an_incomplete_signature_and_is_not_repeated() -> None:
    bearer = replace_header(sign(), "authorization", "Bearer ggwlocal-admin-key")
    refused = refusal(bearer)
    assert refused.response_type == INCOMPLETE_SIGNATURE
    assert "ggwlocal-admin-key" not in refused.message


@pytest.mark.parametrize(
    ("header", "value", "response_type"),
    [
        ("x-amz-date", None, INCOMPLETE_SIGNATURE),
        ("x-amz-date", "yesterday", INCOMPLETE_SIGNATURE),
        ("host", None, INVALID_SIGNATURE),
        ("content-type", None, INVALID_SIGNATURE),
    ],
)
def test_missing_or_malformed_headers_are_refused(
    header: str, value: str | None, response_type: str
) -> None:
    assert refusal(replace_header(sign(), header, value)).response_type == response_type


def test_host_and_date_must_be_signed() -> None:
    request = sign()
    authorization = dict(request.headers)["Authorization"]
    unsigned_host = authorization.replace("SignedHeaders=content-type;host;", "SignedHeaders=")
    assert unsigned_host != authorization
    refused = refusal(replace_header(request, "authorization", unsigned_host))
    assert refused.response_type == INCOMPLETE_SIGNATURE


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/execute-api/aws4_request",
        "AWS4-HMAC-SHA256 Credential=testing, SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 garbage",
    ],
)
def test_malformed_authorization_headers_are_refused(authorization: str) -> None:
    refused = refusal(replace_header(sign(), "authorization", authorization))
    assert refused.response_type in (INCOMPLETE_SIGNATURE, INVALID_SIGNATURE)


@pytest.mark.parametrize(
    ("region", "service"), [("eu-west-1", "execute-api"), ("us-east-1", "lambda")]
)
def test_a_signature_for_another_region_or_service_is_refused(region: str, service: str) -> None:
    refused = refusal(sign(region=region, service=service))
    assert refused.response_type == INVALID_SIGNATURE
    assert "scoped" in refused.message


def test_the_request_context_names_the_local_user() -> None:
    now = datetime.now(UTC)
    context = LOCAL_IAM.request_context(
        method="POST",
        path="/iam/openai/v1/api-keys",
        resource_path="/iam/openai/v1/api-keys",
        source_ip="127.0.0.1",
        user_agent="test",
        now=now,
    )
    identity = context["identity"]
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/local"
    assert identity["accountId"] == context["accountId"] == "123456789012"
    assert context["resourcePath"] == "/iam/openai/v1/api-keys"
