from __future__ import annotations

import pytest

from groq_gateway.store.optimistic import KeptChangingError, retry_on_conflict
from groq_gateway.store.table import ConditionFailedError


def conflicts_then(value: str, conflicts: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls))
        if len(calls) <= conflicts:
            raise ConditionFailedError("update_item", item={"version": len(calls)})
        return value

    return calls, attempt


def test_an_attempt_that_wins_at_once_runs_once() -> None:
    calls, attempt = conflicts_then("done", 0)
    assert retry_on_conflict(attempt) == "done"  # type: ignore[arg-type]
    assert calls == [0]


def test_conflicts_are_retried_with_a_fresh_attempt() -> None:
    calls, attempt = conflicts_then("done", 2)
    assert retry_on_conflict(attempt, attempts=3) == "done"  # type: ignore[arg-type]
    assert calls == [0, 1, 2]


def test_after_the_last_attempt_the_conflict_is_raised_with_what_the_store_saw() -> None:
    calls, attempt = conflicts_then("done", 5)
    with pytest.raises(KeptChangingError) as raised:
        retry_on_conflict(attempt, attempts=4)  # type: ignore[arg-type]
    assert calls == [0, 1, 2, 3]
    assert raised.value.item == {"version": 4}
    assert isinstance(raised.value, ConditionFailedError)


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError, match="not a conflict"):
        retry_on_conflict(attempt)
    assert calls == [1]
