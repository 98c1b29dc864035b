"""How the table wrapper names DynamoDB's refusals: a record over the item limit is the
caller's (``StoreRefusedError.too_large``), not an unavailable store; what is unavailable
stays so."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from groq_gateway.store.table import (
    ConditionFailedError,
    StoreRefusedError,
    StoreUnavailableError,
    Table,
)

PUT: dict[str, Any] = {"Item": {"pk": {"S": "p"}, "sk": {"S": "s"}}}


def answered(code: str, message: str = "", **response: Any) -> Table:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="unit",
        aws_secret_access_key="unit",
    )
    stubber = Stubber(client)
    stubber.add_client_error(
        "put_item",
        service_error_code=code,
        service_message=message,
        http_status_code=400,
        response_meta=None,
        modeled_fields=response or None,
    )
    stubber.activate()
    return Table("unit", client)


@pytest.mark.parametrize(
    "message",
    [
        "Item size has exceeded the maximum allowed size",
        "Item size to update has exceeded the maximum allowed size",
    ],
)
def test_an_item_over_the_size_limit_is_refused_as_too_large(message: str) -> None:
    with pytest.raises(StoreRefusedError) as refused:
        answered("ValidationException", message).call("put_item", **PUT)
    assert refused.value.too_large
    assert message in str(refused.value)


def test_another_validation_error_is_refused_but_not_too_large() -> None:
    table = answered("ValidationException", "Invalid UpdateExpression: Syntax error")
    with pytest.raises(StoreRefusedError) as refused:
        table.call("put_item", **PUT)
    assert not refused.value.too_large


def test_a_transaction_cancelled_for_an_item_too_large_is_refused_as_too_large() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="u", aws_secret_access_key="u"
    )
    stubber = Stubber(client)
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        http_status_code=400,
        modeled_fields={
            "CancellationReasons": [
                {"Code": "None"},
                {"Code": "ValidationError", "Message": "Item size has exceeded the maximum"},
            ]
        },
    )
    stubber.activate()
    with pytest.raises(StoreRefusedError) as refused:
        Table("unit", client).call(
            "transact_write_items", TransactItems=[{"Put": PUT | {"TableName": "unit"}}]
        )
    assert refused.value.too_large


def test_a_refusal_still_fails_closed_where_the_store_is_unavailable() -> None:
    """Code that answers an unavailable store (the proxy's 503) answers a refusal the same."""
    with pytest.raises(StoreUnavailableError):
        answered("ValidationException", "Item size has exceeded").call("put_item", **PUT)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ProvisionedThroughputExceededException", StoreUnavailableError),
        ("ConditionalCheckFailedException", ConditionFailedError),
    ],
)
def test_other_errors_keep_their_meaning(code: str, expected: type[Exception]) -> None:
    with pytest.raises(expected) as raised:
        answered(code).call("put_item", **PUT)
    assert not isinstance(raised.value, StoreRefusedError)
