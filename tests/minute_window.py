"""For tests that count requests against a per-minute limit: start early enough in a minute.

Requests that straddle two minute windows are rightly counted in two, so "the fourth of
three per minute is refused" holds only when all four land in one window. Waiting for the
next minute when fewer than ``seconds`` are left in this one makes that certain.

Example::

    await in_one_window()          # async tests
    start_in_one_window(10)        # sync tests
"""

from __future__ import annotations

import time

import anyio


def _wait(seconds: float) -> float:
    left = 60 - (time.time() % 60)
    return left + 0.05 if left < seconds else 0.0


async def in_one_window(seconds: float = 20.0) -> None:
    await anyio.sleep(_wait(seconds))


def start_in_one_window(seconds: float = 20.0) -> None:
    time.sleep(_wait(seconds))
