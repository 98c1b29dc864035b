"""Conditional updates of keys and teams: the changed fields, if the version is still the one read.

Example::

    store.audit.commit(entry, [versioned_update(table, {"pk": pk, "sk": "TEAM"}, before, after)])
"""

from __future__ import annotations

from typing import Any

from groq_gateway.store.table import Table, to_item


def versioned_update(
    table: Table, item_key: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """The ``Update`` of a transaction that turns the record ``before`` into ``after`` (both
    JSON-mode dumps with a ``version``), if the item is still at ``before``'s version.

    Only the fields that differ are written: changed values are ``SET``, values that became
    ``None`` are ``REMOVE``d, so attributes this record does not describe stay untouched.
    """
    if after["version"] != before["version"] + 1:
        raise ValueError("an update takes the next version")
    names: dict[str, str] = {}
    values: dict[str, Any] = {":expected": before["version"]}
    sets: list[str] = []
    removes: list[str] = []
    for index, (field, value) in enumerate(after.items()):
        if before.get(field) == value:
            continue
        names[f"#f{index}"] = field
        if value is None:
            removes.append(f"#f{index}")
        else:
            sets.append(f"#f{index} = :f{index}")
            values[f":f{index}"] = value
    expression = "SET " + ", ".join(sets) if sets else ""
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return {
        "Update": {
            "TableName": table.name,
            "Key": to_item(item_key),
            "UpdateExpression": expression.strip(),
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
    }
