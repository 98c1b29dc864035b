"""API Gateway's ``AWS_IAM`` check, played locally: verify a request's SigV4 signature.
See docs/architecture.md#the-local-run-groq-gateway-dev.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from groq_gateway_dev.devserver.local_aws import (
    LOCAL_ACCOUNT,
    LOCAL_AWS_ENV,
    LOCAL_REGION,
    LOCAL_USER_ARN,
)

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
# API Gateway refuses a signature whose X-Amz-Date is further than this from its clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

MISSING_AUTHENTICATION_TOKEN = "MISSING_AUTHENTICATION_TOKEN"  # noqa: S105 - a response type
INCOMPLETE_SIGNATURE = "INCOMPLETE_SIGNATURE"
INVALID_SIGNATURE = "INVALID_SIGNATURE"


class SignatureRefused(Exception):
    """API Gateway would refuse the request: its gateway response type and a message that
    never repeats the request's credentials."""

    def __init__(self, response_type: str, message: str) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """A request as the client sent it: ``url`` with its path and query still percent-encoded,
    every header (names in any case, repeated names kept), the whole body."""

    method: str
    url: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        """Every value of the header ``name`` (case-insensitive), in order."""
        return [value for key, value in self.headers if key.lower() == name]


class _Recomputation(SigV4Auth):
    """botocore's SigV4 over exactly the headers the client listed in ``SignedHeaders``."""

    def __init__(self, credentials: Credentials, region: str, signed_headers: list[str]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed_headers:
            for value in request.headers.get_all(name) or []:
                headers[name] = value
        return headers


def _incomplete(message: str) -> SignatureRefused:
    return SignatureRefused(INCOMPLETE_SIGNATURE, message)


def _invalid(message: str) -> SignatureRefused:
    return SignatureRefused(INVALID_SIGNATURE, message)


def _authorization_fields(request: SignedRequest) -> dict[str, str]:
    """``Credential``, ``SignedHeaders`` and ``Signature`` of the one SigV4 Authorization."""
    values = request.values("authorization")
    if not values:
        raise SignatureRefused(MISSING_AUTHENTICATION_TOKEN, "Missing Authentication Token")
    if len(values) > 1:
        raise _incomplete("The request has more than one Authorization header.")
    algorithm, _, rest = values[0].strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(
            f"The Authorization header is not a SigV4 signature ({ALGORITHM} Credential=..., "
            "SignedHeaders=..., Signature=...); routes under /iam/ take no bearer key."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals:
            raise _incomplete(
                "Invalid key=value pair (missing equal-sign) in Authorization header."
            )
        fields[name] = value
    missing = [
        name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)
    ]
    if missing:
        raise _incomplete(
            "Authorization header requires " + ", ".join(f"'{name}'" for name in missing) + "."
        )
    return fields


def _amz_date(request: SignedRequest, now: datetime) -> str:
    """The request's ``X-Amz-Date``, checked against the clock."""
    values = request.values("x-amz-date")
    if len(values) != 1:
        raise _incomplete("Authorization header requires existence of one 'X-Amz-Date' header.")
    amz_date = values[0].strip()
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(f"X-Amz-Date must be in the form {AMZ_DATE_FORMAT}.") from None
    earliest, latest = now - MAX_CLOCK_SKEW, now + MAX_CLOCK_SKEW
    if signed_at < earliest:
        raise _invalid(
            f"Signature expired: {amz_date} is now earlier than "
            f"{earliest.strftime(AMZ_DATE_FORMAT)}."
        )
    if signed_at > latest:
        raise _invalid(
            f"Signature not yet current: {amz_date} is still later than "
            f"{latest.strftime(AMZ_DATE_FORMAT)}."
        )
    return amz_date


@dataclass(frozen=True)
class LocalIam:
    """The one IAM user of the local run: its credentials, its region and who it is."""

    access_key_id: str
    secret_access_key: str
    region: str
    account_id: str
    user_arn: str
    user_id: str

    def verify(self, request: SignedRequest, *, now: datetime) -> None:
        """Return if API Gateway would accept the request's signature, else raise
        :class:`SignatureRefused`."""
        fields = _authorization_fields(request)
        amz_date = _amz_date(request, now)
        scope = fields["Credential"].split("/")
        if len(scope) != 5:
            raise _incomplete(
                "Credential must be <access key id>/<date>/<region>/<service>/aws4_request."
            )
        access_key_id, day, region, service, terminator = scope
        if day != amz_date[:8]:
            raise _invalid(f"Credential should be scoped to a valid date: {amz_date[:8]}.")
        if region != self.region:
            raise _invalid(f"Credential should be scoped to a valid region: '{self.region}'.")
        if (service, terminator) != (SERVICE, "aws4_request"):
            raise _invalid(f"Credential should be scoped to the service '{SERVICE}'.")
        if not hmac.compare_digest(access_key_id.encode(), self.access_key_id.encode()):
            raise _invalid("The security token included in the request is invalid.")
        signed_headers = fields["SignedHeaders"].split(";")
        if "host" not in signed_headers or "x-amz-date" not in signed_headers:
            raise _incomplete("'Host' and 'X-Amz-Date' must be SignedHeaders.")
        absent = [name for name in signed_headers if not request.values(name)]
        if absent:
            raise _invalid(f"Signed headers missing from the request: {', '.join(absent)}.")
        # botocore takes a client's X-Amz-Content-SHA256 as the body's hash: it must be one.
        for content_hash in request.values("x-amz-content-sha256"):
            if content_hash != hashlib.sha256(request.body).hexdigest():
                raise _invalid("X-Amz-Content-SHA256 does not match the request's body.")
        if not hmac.compare_digest(
            self._signature(request, amz_date, signed_headers).encode(),
            fields["Signature"].encode(),
        ):
            raise _invalid(
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method."
            )

    def _signature(self, request: SignedRequest, amz_date: str, signed_headers: list[str]) -> str:
        headers = HTTPHeaders()
        for name, value in request.headers:
            headers[name.lower()] = value
        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body)
        aws_request.headers = headers
        aws_request.context["timestamp"] = amz_date
        credentials = Credentials(self.access_key_id, self.secret_access_key)
        signer = _Recomputation(credentials, self.region, signed_headers)
        canonical_request = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical_request)
        signature: str = signer.signature(string_to_sign, aws_request)
        return signature

    def request_context(
        self,
        *,
        method: str,
        path: str,
        resource_path: str,
        source_ip: str | None,
        user_agent: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """API Gateway's ``requestContext`` for a request this user signed, as the Lambda Web
        Adapter passes it to the app (``x-amzn-request-context``)."""
        return {
            "accountId": self.account_id,
            "apiId": "local",
            "httpMethod": method,
            "identity": {
                "accessKey": self.access_key_id,
                "accountId": self.account_id,
                "caller": self.user_id,
                "sourceIp": source_ip,
                "user": self.user_id,
                "userAgent": user_agent,
                "userArn": self.user_arn,
            },
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourcePath": resource_path,
            "stage": "local",
        }


# The local credentials every local process gets (LOCAL_AWS_ENV), as an IAM user of the local
# account: what `groq-gateway --sigv4` signs with when pointed at `groq-gateway dev`.
LOCAL_IAM = LocalIam(
    access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
    secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    region=LOCAL_REGION,
    account_id=LOCAL_ACCOUNT,
    user_arn=LOCAL_USER_ARN,
    user_id="AIDALOCALUSER0EXAMPLE",
)
