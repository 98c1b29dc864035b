"""EventBridge Scheduler, played locally: each scheduled function's handler on a timer, given
the schedule's ``Input`` from the template (``rate(...)`` schedules only).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from groq_gateway.core.observability import logger
from groq_gateway_dev.devserver.functions import Handler, LocalContext

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of ``rate(N unit)``; ``None`` for anything else."""
    match = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
    if match is None or match.group(2) not in _UNITS:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    handler: Handler
    interval: float
    event: dict[str, Any]


class LocalScheduler:
    """Runs each job every ``interval / speedup`` seconds in a daemon thread until stopped."""

    def __init__(self, jobs: list[ScheduledJob], speedup: float = 1.0) -> None:
        self.jobs = jobs
        self.speedup = speedup
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for job in self.jobs:
            thread = threading.Thread(target=self._loop, args=(job,), name=job.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self, job: ScheduledJob) -> None:
        while not self._stop.wait(job.interval / self.speedup):
            try:
                job.handler(dict(job.event), LocalContext(function_name=job.name))
            except Exception as error:  # a failed run is retried at the next tick, as in AWS
                logger.error(
                    "scheduled run failed",
                    extra={"function": job.name, "error_type": type(error).__name__},
                )
