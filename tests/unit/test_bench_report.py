"""The benchmark's regression check and cost model (bench/), without running a benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import cost
from bench.report import Figures, compare, load_baseline, save_baseline


def baseline_of(**values: tuple[float, str, str]) -> Figures:
    figures = Figures()
    for key, (value, unit, better) in values.items():
        figures.add(key, value, unit, better)
    return figures


def test_a_figure_worse_than_its_tolerance_is_flagged_and_one_within_is_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baseline.json"
    save_baseline(
        path,
        baseline_of(
            latency=(10.0, "ms", "lower"),
            writes=(2.0, "count", "lower"),
            rps=(100.0, "rps", "higher"),
            tail=(20.0, "ms", "info"),
        ),
        {"recorded": "today"},
    )
    assert json.loads(path.read_text())["recorded"] == "today"
    baseline = load_baseline(path)

    # 10 ms may grow by 30 % + 2 ms = 5 ms; 2 writes by 0.05; 100 rps may fall by 20 %.
    within = baseline_of(
        latency=(14.9, "ms", "lower"),
        writes=(2.0, "count", "lower"),
        rps=(81.0, "rps", "higher"),
        tail=(200.0, "ms", "info"),
    )
    assert compare(within, baseline)[1] == []

    beyond = baseline_of(
        latency=(15.2, "ms", "lower"),
        writes=(2.1, "count", "lower"),
        rps=(79.0, "rps", "higher"),
        tail=(200.0, "ms", "info"),
    )
    lines, worse = compare(beyond, baseline)
    assert worse == ["latency", "rps", "writes"]
    assert any("(not judged)" in line for line in lines)

    better = baseline_of(latency=(4.0, "ms", "lower"))
    assert "better" in compare(better, baseline)[0][2]


def test_a_figure_missing_from_the_baseline_is_new_not_worse() -> None:
    lines, worse = compare(baseline_of(fresh=(1.0, "ms", "lower")), {})
    assert worse == []
    assert "new" in lines[2]


def measured(**changes: float) -> cost.Measured:
    values: dict[str, float] = {
        "memory_mb": 1024,
        "bench_duration_ms": 70.0,
        "added_ms": 14.0,
        "after_response_ms": 14.0,
        "cpu_ms": 14.0,
        "wru": 10.0,
        "rru": 0.05,
        "log_bytes": 1600.0,
        "access_log_bytes": 546,
    }
    values.update(changes)
    return cost.Measured(**values)  # type: ignore[arg-type]


def test_billed_duration_counts_the_after_response_work_and_less_cpu_at_less_memory() -> None:
    at_full_cpu = cost.lambda_duration_ms(measured(), 500.0, cost.LAMBDA_MB_PER_VCPU)
    assert at_full_cpu == pytest.approx(500 + 14 + 14)
    at_half = cost.lambda_duration_ms(measured(), 500.0, cost.LAMBDA_MB_PER_VCPU // 2)
    assert at_half == pytest.approx(528 + 14 * (cost.LAMBDA_MB_PER_VCPU / 884 - 1))


def test_cost_per_million_prices_each_line_from_the_measured_figures() -> None:
    lines = cost.per_million(measured(), 500.0, 1024)
    assert lines["DynamoDB writes"] == pytest.approx(10 * cost.DYNAMODB_WRU_PER_MILLION)
    assert lines["DynamoDB reads"] == pytest.approx(0.05 * cost.DYNAMODB_RRU_PER_MILLION)
    seconds = cost.lambda_duration_ms(measured(), 500.0, 1024) / 1000
    assert lines["Lambda duration"] == pytest.approx(
        1.0 * seconds * cost.LAMBDA_ARM64_PER_GB_SECOND * 1e6
    )
    assert lines["CloudWatch Logs ingestion"] == pytest.approx(
        (1600 + 546) / 1e3 * cost.LOGS_INGESTED_PER_GB
    )
