"""``Table.write_once``: a settlement write (an ``ADD``, which a second delivery would apply
twice) is sent again only when DynamoDB certainly did not apply it: throttled, or no
connection made. A read timeout leaves it unknown: one send, raised for the caller to record.
And the client the proxy gives it (``WRITE_ONCE_CONFIG``) must not resend on its own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from groq_gateway.store.table import (
    WRITE_ONCE_ATTEMPTS,
    WRITE_ONCE_CONFIG,
    StoreUnavailableError,
    Table,
)

UPDATE: dict[str, Any] = {
    "TableName": "unit",
    "Key": {"pk": {"S": "KEY#k"}, "sk": {"S": "USE#2026-01-01#m"}},
    "UpdateExpression": "ADD requests :one",
    "ExpressionAttributeValues": {":one": {"N": "1"}},
}
ENDPOINT = "http://dynamodb.invalid"


def no_sleep(seconds: float) -> None:
    return None


class FakeClient:
    """Answers ``update_item`` with each of ``outcomes`` in turn (an exception is raised)."""

    def __init__(self, *outcomes: BaseException | dict[str, Any]) -> None:
        self.outcomes = list(outcomes)
        self.sends: list[dict[str, Any]] = []

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.sends.append(kwargs)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def table_with(client: Any) -> Table:
    return Table("unit", client=client, once_client=client)


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="u", aws_secret_access_key="u"
    )
    return client, Stubber(client)


def test_a_throttled_write_is_sent_again_and_applied_once() -> None:
    client, stubber = stubbed()
    stubber.add_client_error(
        "update_item", service_error_code="ThrottlingException", http_status_code=400
    )
    stubber.add_response("update_item", {}, UPDATE)
    with stubber:
        table_with(client).write_once(UPDATE, sleep=no_sleep)
        stubber.assert_no_pending_responses()  # two sends: the refused one and the applied one


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "RequestLimitExceeded"])
def test_other_refusals_before_running_are_sent_again(code: str) -> None:
    client = FakeClient(_client_error(code), {})
    table_with(client).write_once(UPDATE, sleep=no_sleep)
    assert len(client.sends) == 2


def test_throttled_every_time_it_gives_up_after_its_attempts() -> None:
    client = FakeClient(*[_client_error("ThrottlingException")] * WRITE_ONCE_ATTEMPTS)
    with pytest.raises(StoreUnavailableError) as raised:
        table_with(client).write_once(UPDATE, sleep=no_sleep)
    assert raised.value.unapplied
    assert len(client.sends) == WRITE_ONCE_ATTEMPTS


def test_a_read_timeout_is_one_send_raised_as_unavailable() -> None:
    client = FakeClient(ReadTimeoutError(endpoint_url=ENDPOINT), {})
    with pytest.raises(StoreUnavailableError) as raised:
        table_with(client).write_once(UPDATE, sleep=no_sleep)
    assert not raised.value.unapplied  # it may have been applied: never sent again
    assert len(client.sends) == 1


def test_a_server_error_is_one_send_raised_as_unavailable() -> None:
    client = FakeClient(_client_error("InternalServerError", status=500), {})
    with pytest.raises(StoreUnavailableError):
        table_with(client).write_once(UPDATE, sleep=no_sleep)
    assert len(client.sends) == 1


@pytest.mark.parametrize(
    "error",
    [ConnectTimeoutError(endpoint_url=ENDPOINT), EndpointConnectionError(endpoint_url=ENDPOINT)],
    ids=["connect timeout", "no connection"],
)
def test_a_write_that_never_reached_dynamodb_is_sent_again(error: Exception) -> None:
    client = FakeClient(error, {})
    table_with(client).write_once(UPDATE, sleep=no_sleep)
    assert len(client.sends) == 2
    assert client.sends[0] == client.sends[1]


def test_the_backoff_between_sends_grows() -> None:
    waits: list[float] = []
    client = FakeClient(*[_client_error("ThrottlingException")] * (WRITE_ONCE_ATTEMPTS - 1), {})
    table_with(client).write_once(UPDATE, sleep=waits.append)
    assert len(waits) == WRITE_ONCE_ATTEMPTS - 1
    assert waits == sorted(waits)
    assert waits[0] > 0


@pytest.fixture
def silent_endpoint() -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP endpoint that reads each request and never answers; the requests it got."""
    requests: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    stopped = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stopped.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)
            connection.settimeout(2)
            with contextlib.suppress(OSError):
                requests.append(connection.recv(65536))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", requests
    stopped.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_the_proxys_write_once_client_does_not_resend_after_a_read_timeout(
    silent_endpoint: tuple[str, list[bytes]],
) -> None:
    # botocore's standard retry mode resends after a read timeout; WRITE_ONCE_CONFIG allows
    # one attempt, so the settlement write reaches DynamoDB once (a shorter read timeout here
    # only to keep the test fast).
    url, requests = silent_endpoint
    client = boto3.client(
        "dynamodb",
        endpoint_url=url,
        config=WRITE_ONCE_CONFIG.merge(Config(read_timeout=0.3)),
        region_name="us-east-1",
        aws_access_key_id="u",
        aws_secret_access_key="u",
    )
    with pytest.raises(StoreUnavailableError) as raised:
        table_with(client).write_once(UPDATE, sleep=no_sleep)
    assert isinstance(raised.value.__cause__, ReadTimeoutError)
    assert len(requests) == 1


def _client_error(code: str, status: int = 400) -> Exception:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "UpdateItem",
    )
