"""IAM principals' mapped admin roles: one item per principal a full admin gave a role
(``IAMPRINCIPALS`` / ``ARN#<arn>``), read whole (one query) by the admin function's IAM
check. See docs/admin-api.md#iam-principal-roles.

Example::

    store.iam_principals.all()  # {"arn:aws:iam::123456789012:role/Chatbot": IamPrincipalRole(...)}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from groq_gateway.core.records import IamPrincipalRole
from groq_gateway.store.table import Table, to_item

IAM_PRINCIPALS_PK = "IAMPRINCIPALS"


def _principal_sk(arn: str) -> str:
    return f"ARN#{arn}"


class IamPrincipalStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def all(self, *, consistent: bool = False) -> dict[str, IamPrincipalRole]:
        """Every mapped principal by ARN: one query (a page holds thousands)."""
        items: Iterator[dict[str, Any]] = self.table.query_pages(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": IAM_PRINCIPALS_PK}),
            ConsistentRead=consistent,
        )
        mapped = (IamPrincipalRole.model_validate(item) for item in items)
        return {principal.arn: principal for principal in mapped}

    def get(self, arn: str) -> IamPrincipalRole | None:
        item = self.table.get(IAM_PRINCIPALS_PK, _principal_sk(arn))
        return IamPrincipalRole.model_validate(item) if item else None

    def put(
        self, principal: IamPrincipalRole, *, replacing: IamPrincipalRole | None
    ) -> dict[str, Any]:
        """The ``Put`` of a transaction that sets a principal's role, if its mapping is still
        ``replacing`` (None: it had none)."""
        item = {
            "pk": IAM_PRINCIPALS_PK,
            "sk": _principal_sk(principal.arn),
            "record_type": "iam_principal",
            **principal.model_dump(mode="json"),
        }
        return {
            "Put": {"TableName": self.table.name, "Item": to_item(item), **_unchanged(replacing)}
        }

    def delete(self, principal: IamPrincipalRole) -> dict[str, Any]:
        """The ``Delete`` of a transaction that removes a principal's mapping, if it is still
        ``principal``."""
        return {
            "Delete": {
                "TableName": self.table.name,
                "Key": to_item({"pk": IAM_PRINCIPALS_PK, "sk": _principal_sk(principal.arn)}),
                **_unchanged(principal),
            }
        }


def _unchanged(principal: IamPrincipalRole | None) -> dict[str, Any]:
    """The condition that the stored mapping is still ``principal`` (None: none stored)."""
    if principal is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "version = :read",
        "ExpressionAttributeValues": to_item({":read": principal.version}),
    }
