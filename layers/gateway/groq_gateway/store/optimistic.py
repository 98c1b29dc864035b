"""The one way to retry a read-modify-write that lost a race for an item's version."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from groq_gateway.store.table import ConditionFailedError

T = TypeVar("T")

DEFAULT_ATTEMPTS = 3


class KeptChangingError(ConditionFailedError):
    """Every attempt met a concurrent change."""


def retry_on_conflict(attempt: Callable[[], T], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
    """Run ``attempt`` (which reads what it changes, then writes it conditionally) until it
    does not raise :class:`ConditionFailedError`, at most ``attempts`` times.

    Example::

        def rename() -> Team:
            team = store.teams.get(team_id)
            store.table.call("update_item", **store.teams.update(team, renamed(team))["Update"])
            return team

        retry_on_conflict(rename)  # KeptChangingError after 3 conflicts
    """
    for _ in range(attempts - 1):
        try:
            return attempt()
        except ConditionFailedError:
            continue
    try:
        return attempt()
    except ConditionFailedError as error:
        raise KeptChangingError(str(error), item=error.item, reasons=error.reasons) from error
