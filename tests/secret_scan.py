"""A pytest plugin: after the whole suite, scan every test's log output for key material.

Captured stdout, stderr and logging of every test (Powertools' JSON logs and EMF lines
included), and the log files of the `groq-gateway dev` processes the tests start, are
searched for anything shaped like a gateway key, an admin key or a Groq key, and for the
fixed test secrets. A find fails the run, naming where it was (never printing the key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

KEY_SHAPES = (
    re.compile(r"ggw_[a-z0-9]{16}_[A-Za-z0-9]{43}"),
    re.compile(r"ggwadm_[a-z0-9]{16}_[A-Za-z0-9]{43}"),
    re.compile(r"gsk_[A-Za-z0-9_]{8,}"),
)


@dataclass
class SecretScan:
    known: set[str] = field(default_factory=set)
    findings: list[str] = field(default_factory=list)
    scanned_bytes: int = 0

    def scan(self, source: str, text: str) -> None:
        self.scanned_bytes += len(text)
        for number, line in enumerate(text.splitlines(), 1):
            shapes = [p.pattern for p in KEY_SHAPES if p.search(line)]
            known = [s for s in self.known if s and s in line]
            if shapes or known:
                what = ", ".join(shapes + ["a test secret"] * bool(known))
                self.findings.append(f"{source}, line {number}: {what}")


SCAN = SecretScan()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, content in report.sections:
        if name.startswith("Captured"):
            SCAN.scan(f"{report.nodeid} ({name})", content)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if SCAN.findings:
        if reporter is not None:
            reporter.write_line(f"key material in log output ({len(SCAN.findings)} lines):")
            for finding in SCAN.findings[:50]:
                reporter.write_line(f"  {finding}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(
            f"secret scan: {SCAN.scanned_bytes} bytes of log output, no key material"
        )
