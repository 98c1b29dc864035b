"""What the benchmark reads from a proxy's stdout (bench/measure.py): the bytes of each kind
of line and the request lines' timings, on lines the proxy really writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import measure

from groq_gateway.proxy.telemetry import RequestTelemetry


def test_the_request_line_is_counted_and_its_timings_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    for completion_tokens in (200, 300):
        RequestTelemetry(
            path="chat/completions",
            key_id="k7w2m9q4x1c8v5b3",
            model="openai/gpt-oss-20b",
            status=200,
            completion_tokens=completion_tokens,
            upstream_ms=500.0,
            total_ms=503.0,
        ).publish()
    requests = capsys.readouterr().out
    other = json.dumps({"level": "WARNING", "message": "cache refresh failed"}) + "\n"
    stdout = tmp_path / "stdout"
    stdout.write_text("not counted\n" + requests + other)
    offset = len("not counted\n")
    assert measure.log_bytes(stdout, offset) == {"emf": len(requests), "log": len(other)}
    assert len(measure.logged_values(stdout, offset, "after_response_ms")) == 2
    assert measure.logged_values(stdout, offset, "CompletionTokens") == [200.0, 300.0]
