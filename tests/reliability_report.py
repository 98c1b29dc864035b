"""A pytest plugin: the reliability suite's figures, and docs/reliability.md written from them.

Tests record what they tried (``RELIABILITY.requests(...)``, ``.inputs(...)``,
``.faults(...)``); with ``--reliability-report PATH`` (``make proof``) the figures of the run
are written to PATH as a Markdown table, so the published document is always the output of a
real run and never edited by hand.
"""

from __future__ import annotations

import platform
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class RequestFigures:
    tried: int = 0
    admitted: int = 0
    rejected: int = 0

    @property
    def lost(self) -> int:
        return self.tried - self.admitted - self.rejected


@dataclass
class Reliability:
    requests: dict[str, RequestFigures] = field(default_factory=lambda: defaultdict(RequestFigures))
    inputs_tried: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    faults_injected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    money_paths: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def count_requests(self, scenario: str, statuses: list[int], admitted: int = 200) -> None:
        """Every status must be an admission or a clean refusal (429): anything else is lost."""
        figures = self.requests[scenario]
        figures.tried += len(statuses)
        figures.admitted += statuses.count(admitted)
        figures.rejected += statuses.count(429)

    def count_input(self, suite: str) -> None:
        self.inputs_tried[suite] += 1

    def count_fault(self, kind: str, count: int = 1) -> None:
        self.faults_injected[kind] += count

    def count_money(self, what: str, count: int = 1) -> None:
        """A figure of the paths that cost money besides chat (batches tried, refused and
        metered; unpriced requests charged; multipart bodies generated; lost)."""
        self.money_paths[what] += count

    def markdown(self, outcome: str) -> str:
        lines = [
            "# Reliability: figures from the last `make proof` run",
            "",
            "Written by the test suite itself (`tests/reliability_report.py`); do not edit.",
            f"Machine: {platform.machine()}, Python {platform.python_version()}. "
            f"Outcome of the run: **{outcome}**.",
            "",
            "## Requests under concurrency",
            "",
            "| scenario | tried | admitted | rejected (429) | lost |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {f.tried} | {f.admitted} | {f.rejected} | {f.lost} |"
            for name, f in sorted(self.requests.items())
        ]
        lines += [
            "",
            "## Inputs tried (property-based tests)",
            "",
            "| suite | inputs |",
            "|---|---|",
        ]
        lines += [f"| {name} | {n} |" for name, n in sorted(self.inputs_tried.items())]
        lines += ["", "## Faults injected", "", "| fault | injected |", "|---|---|"]
        lines += [f"| {name} | {n} |" for name, n in sorted(self.faults_injected.items())]
        lines += ["", "## Paths that cost money", "", "| figure | count |", "|---|---|"]
        lines += [f"| {name} | {n} |" for name, n in sorted(self.money_paths.items())]
        return "\n".join(lines) + "\n"


RELIABILITY = Reliability()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report",
        metavar="PATH",
        help="write the reliability figures of this run to PATH (make proof)",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("--reliability-report")
    if path:
        outcome = "all tests passed" if exitstatus == 0 else f"tests failed (exit {exitstatus})"
        Path(path).write_text(RELIABILITY.markdown(outcome), encoding="utf-8")
