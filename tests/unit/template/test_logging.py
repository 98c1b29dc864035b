"""LogLevel works, and the metric (EMF) lines survive it and reach the log when written.

* Lambda filters application logs (JSON format) at its ApplicationLogLevel and counts a line
  without a "level" (every EMF line) as INFO, so the template keeps that filter at INFO or below
  and Powertools applies the stricter levels itself.
* Under the Web Adapter, stdout is a pipe: without PYTHONUNBUFFERED a request's metric line would
  sit in Python's buffer until more output fills it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.unit.template.sam import of_type, packaged, source_template, transformed

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "gateway"
# Lambda's application log levels, most verbose first (LoggingConfig.ApplicationLogLevel).
LAMBDA_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
PYTHON_TO_LAMBDA = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}
WEB_FUNCTIONS = ["ProxyFunction", "AdminFunction"]


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return source_template()


def application_log_level(source: dict[str, Any], log_level: str) -> str:
    """What Lambda's filter is set to when the stack's LogLevel is ``log_level``."""
    value = source["Globals"]["Function"]["LoggingConfig"]["ApplicationLogLevel"]
    assert value == {
        "Fn::FindInMap": ["LambdaLogLevel", {"Ref": "LogLevel"}, "ApplicationLogLevel"]
    }
    level: str = source["Mappings"]["LambdaLogLevel"][log_level]["ApplicationLogLevel"]
    return level


def log_levels(source: dict[str, Any]) -> list[str]:
    levels: list[str] = source["Parameters"]["LogLevel"]["AllowedValues"]
    return levels


def test_every_function_gets_lambdas_log_level_filter(source: dict[str, Any]) -> None:
    output = transformed(packaged(source))
    functions = of_type(output, "AWS::Lambda::Function")
    assert len(functions) == 5
    for logical_id, function in functions.items():
        config = function["Properties"]["LoggingConfig"]
        assert config["LogFormat"] == "JSON", logical_id
        assert config["ApplicationLogLevel"] == {
            "Fn::FindInMap": ["LambdaLogLevel", {"Ref": "LogLevel"}, "ApplicationLogLevel"]
        }, logical_id
        assert "LogGroup" in config, logical_id  # merged with the function's own setting


def test_lambdas_filter_never_drops_a_metric_line(source: dict[str, Any]) -> None:
    for log_level in log_levels(source):
        level = application_log_level(source, log_level)
        assert level in LAMBDA_LEVELS, level
        # EMF lines count as INFO: a stricter Lambda filter would drop every metric.
        assert LAMBDA_LEVELS.index(level) <= LAMBDA_LEVELS.index("INFO"), log_level
        # ... and never hides what Powertools was asked to print.
        asked = PYTHON_TO_LAMBDA[log_level]
        assert LAMBDA_LEVELS.index(level) <= LAMBDA_LEVELS.index(asked), log_level


def _lambda_level(line: dict[str, Any]) -> str:
    """The level Lambda assigns a JSON log line (INFO when "level" is missing or invalid)."""
    level = str(line.get("level", "")).upper()
    level = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(level, level)
    return level if level in LAMBDA_LEVELS else "INFO"


EMIT = """
from groq_gateway.core.observability import logger, metrics
logger.debug("debug line")
logger.info("info line")
logger.warning("warning line")
logger.error("error line")
metrics.add_metric(name="PollerRuns", unit="Count", value=1)
metrics.flush_metrics()
"""


def _function_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA"))}
    env.pop("PYTHONUNBUFFERED", None)
    env.update(
        PYTHONPATH=str(LAYER),
        POWERTOOLS_SERVICE_NAME="groq-gateway",
        POWERTOOLS_METRICS_NAMESPACE="GroqGateway/test",
    )
    env.update(extra)
    return env


@pytest.mark.parametrize("log_level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_powertools_filters_at_log_level_and_lambda_keeps_the_metrics(
    source: dict[str, Any], log_level: str
) -> None:
    assert log_level in log_levels(source)
    lambda_level = application_log_level(source, log_level)
    variables = source["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    env = _function_env({"POWERTOOLS_LOG_LEVEL": log_level, "AWS_LAMBDA_LOG_LEVEL": lambda_level})
    result = subprocess.run(
        [sys.executable, "-c", EMIT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # What Lambda's filter lets through to CloudWatch Logs.
    kept = [
        line for line in lines
        if LAMBDA_LEVELS.index(_lambda_level(line)) >= LAMBDA_LEVELS.index(lambda_level)
    ]  # fmt: skip
    assert any("_aws" in line for line in kept), f"metric line dropped at {log_level}"
    messages = {line["message"] for line in kept if "message" in line}
    expected = {
        "DEBUG": {"debug line", "info line", "warning line", "error line"},
        "INFO": {"info line", "warning line", "error line"},
        "WARNING": {"warning line", "error line"},
        "ERROR": {"error line"},
    }[log_level]
    assert messages == expected


@pytest.mark.parametrize("function", WEB_FUNCTIONS)
def test_a_metric_line_reaches_stdout_when_written(source: dict[str, Any], function: str) -> None:
    """The process keeps running (as uvicorn does between requests) and the line is already out."""
    own = source["Resources"][function]["Properties"]["Environment"]["Variables"]
    plain = {k: v for k, v in own.items() if isinstance(v, str) and k.startswith("PYTHON")}
    script = EMIT + "import sys\nsys.stdin.readline()\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env=_function_env({**plain, "POWERTOOLS_LOG_LEVEL": "INFO"}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    seen: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if '"_aws"' in line:
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert found.wait(timeout=20), f"{function}: metric line still buffered; got {seen!r}"
        assert process.poll() is None, "the line must arrive while the process still runs"
    finally:
        process.stdin.close()
        process.wait(timeout=20)
