"""The one DynamoDB table behind a thin wrapper that every repository writes through: Python
values to attribute values, botocore errors to the store's exceptions.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Short timeouts and few retries: a request that waits on DynamoDB holds a client waiting too,
# and failing closed quickly (503) is better than hanging. The admin API, the poller and the
# scheduled functions: a call gives up after at most about 10 s (3 attempts).
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=3,
    retries={"max_attempts": 3, "mode": "standard"},
)
# The proxy's request path: DynamoDB answers a single-item call in milliseconds, so a second
# without a byte means it is unreachable. Two attempts of at most 1 s each, with standard
# mode's backoff (under 1 s) between them: a request fails closed (503) within about 3 s
# (docs/operations.md, "DynamoDB unreachable").
# A fixed user agent: botocore otherwise builds and sanitises its user-agent string anew for every
# call, about 0.08 ms of the proxy's CPU a call (about 9 % of an `UpdateItem`'s), on every
# request's path (docs/performance.md).
PROXY_USER_AGENT = "groq-gateway-proxy"
REQUEST_PATH_CONFIG = Config(
    connect_timeout=1,
    read_timeout=1,
    retries={"total_max_attempts": 2, "mode": "standard"},
    user_agent=PROXY_USER_AGENT,
)
# The proxy's single-item admission and settlement writes (`ADD`s, which a second delivery
# would apply twice): one attempt, sent again by `Table.write_once` only after an error that
# says the write was not applied. botocore would also resend after a read timeout, when the
# write may have been applied.
WRITE_ONCE_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"total_max_attempts": 1, "mode": "standard"},
    user_agent=PROXY_USER_AGENT,
)
# DynamoDB's refusals of a request it did not apply (it was throttled before running it).
_UNAPPLIED_CODES = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)
WRITE_ONCE_ATTEMPTS = 3


class StoreUnavailableError(Exception):
    """DynamoDB could not be reached or refused the call for a reason other than a condition.

    ``conflict`` is true when a transaction met another one on the same item: retrying it
    is safe and usually succeeds. ``unapplied`` is true when the call certainly changed
    nothing (throttled, or no connection was made): even a non-idempotent write may be sent
    again.
    """

    def __init__(self, message: str, *, conflict: bool = False, unapplied: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict
        self.unapplied = unapplied


class StoreRefusedError(StoreUnavailableError):
    """DynamoDB refused the call as invalid (``ValidationException``, or a transaction cancelled
    for a ``ValidationError``): retrying it cannot help. ``too_large`` when an item would pass
    DynamoDB's 400 KB item limit, the caller's record being too big.

    A kind of :class:`StoreUnavailableError`, so that whatever fails closed on an unavailable
    store does the same here; the admin API answers it as the client's mistake (422).
    """

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


def _is_size_refusal(message: str) -> bool:
    """DynamoDB's words for an item (or an update) over its size limit."""
    return "size" in message.lower() and "exceeded" in message.lower()


class ConditionFailedError(Exception):
    """A conditional write found an item in another state than it required.

    For a single write, ``item`` holds the item as it was (when asked for with
    ``ReturnValuesOnConditionCheckFailure``); for a transaction, ``reasons`` holds
    DynamoDB's cancellation reasons, one per item of the transaction.
    """

    def __init__(
        self,
        operation: str,
        *,
        item: dict[str, Any] | None = None,
        reasons: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(operation)
        self.item = item
        self.reasons = reasons or []

    def failed_index(self) -> int:
        """The position in the transaction of the first item whose condition failed."""
        for index, reason in enumerate(self.reasons):
            if reason.get("Code") == "ConditionalCheckFailed":
                return index
        return 0

    def failed_item(self) -> dict[str, Any] | None:
        if not self.reasons:
            return self.item
        old = self.reasons[self.failed_index()].get("Item")
        return from_item(old) if old else None


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB attribute values; ``None`` values are left out."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def dynamodb_client(config: Config = CLIENT_CONFIG) -> DynamoDBClient:
    """A DynamoDB client with ``config``'s timeouts and retries (endpoint and credentials from
    the environment)."""
    client: DynamoDBClient = boto3.client("dynamodb", config=config)
    return client


class Table:
    """``once_client``: the client of :meth:`write_once` (by default ``client``; the proxy
    gives one without retries, ``WRITE_ONCE_CONFIG``)."""

    def __init__(
        self,
        name: str,
        client: DynamoDBClient | None = None,
        once_client: DynamoDBClient | None = None,
    ) -> None:
        self.name = name
        self.client: DynamoDBClient = client or dynamodb_client()
        self.once_client: DynamoDBClient = once_client or self.client

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call a DynamoDB operation on this table (``TableName`` is added where it belongs)."""
        return self._call(self.client, operation, kwargs)

    def write_once(self, update: dict[str, Any], *, sleep: Any = None) -> dict[str, Any]:
        """One ``UpdateItem`` applied at most once: sent again only when DynamoDB certainly
        did not apply it (up to ``WRITE_ONCE_ATTEMPTS`` sends). An error that leaves it unknown
        (a timeout, a server error) is raised, and the caller fails closed or records the write
        for replay: an ``ADD`` sent twice would count twice, and ``UpdateItem`` has no
        idempotency token (a transaction's ``ClientRequestToken`` makes its resends safe)."""
        for attempt in range(WRITE_ONCE_ATTEMPTS):
            try:
                return self._call(self.once_client, "update_item", dict(update))
            except StoreUnavailableError as error:
                if not error.unapplied or attempt == WRITE_ONCE_ATTEMPTS - 1:
                    raise
                (sleep or time.sleep)(0.02 * 2**attempt)
        raise AssertionError("unreachable")

    def _call(self, client: Any, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if operation not in ("transact_write_items", "transact_get_items"):
            kwargs.setdefault("TableName", self.name)
        try:
            result: dict[str, Any] = getattr(client, operation)(**kwargs)
        except ClientError as error:
            response: dict[str, Any] = dict(error.response)
            code = response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                old = response.get("Item")
                raise ConditionFailedError(
                    operation, item=from_item(old) if old else None
                ) from error
            if code == "TransactionCanceledException":
                reasons = list(response.get("CancellationReasons", []))
                codes = {r.get("Code") for r in reasons}
                if "ConditionalCheckFailed" in codes:
                    raise ConditionFailedError(operation, reasons=reasons) from error
                if "ValidationError" in codes:
                    messages = [str(r.get("Message", "")) for r in reasons]
                    raise StoreRefusedError(
                        f"DynamoDB {operation} refused: {'; '.join(m for m in messages if m)}",
                        too_large=any(_is_size_refusal(m) for m in messages),
                    ) from error
                raise StoreUnavailableError(
                    f"DynamoDB {operation} cancelled: {sorted(c for c in codes if c)}",
                    conflict="TransactionConflict" in codes,
                ) from error
            if code == "ValidationException":
                message = str(response.get("Error", {}).get("Message", ""))
                raise StoreRefusedError(
                    f"DynamoDB {operation} refused: {message}",
                    too_large=_is_size_refusal(message),
                ) from error
            raise StoreUnavailableError(
                f"DynamoDB {operation} failed: {code}", unapplied=code in _UNAPPLIED_CODES
            ) from error
        except BotoCoreError as error:
            raise StoreUnavailableError(
                f"DynamoDB {operation} failed: {error}",
                unapplied=isinstance(error, ConnectTimeoutError | EndpointConnectionError),
            ) from error
        return result

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.call(
            "get_item", Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=consistent
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def query_pages(self, **kwargs: Any) -> Any:
        """Every item of a query, page by page (a generator of plain dicts)."""
        start: dict[str, Any] | None = None
        while True:
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self.call("query", **kwargs)
            for item in page.get("Items", []):
                yield from_item(item)
            start = page.get("LastEvaluatedKey")
            if not start:
                return
