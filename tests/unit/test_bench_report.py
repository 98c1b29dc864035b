"""The benchmark's regression check and cost model (bench/), without running a benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import cost
from bench.report import Figures, compare, load_baseline, save_baseline

from groq_gateway.core.pricing import default_price_book


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


def test_the_function_url_has_no_request_price_and_no_access_log_line() -> None:
    through_api = cost.per_million(measured(), 500.0, 1024, cost.API_GATEWAY)
    through_url = cost.per_million(measured(), 500.0, 1024, cost.FUNCTION_URL)
    assert through_api["Front door requests"] == pytest.approx(3.50)
    assert through_url["Front door requests"] == 0.0
    # 1,600 B of stdout alone: 1.6 GB per million requests at $0.50 per GB.
    assert through_url["CloudWatch Logs ingestion"] == pytest.approx(1.6 * 0.50)
    assert through_api["CloudWatch Logs ingestion"] == pytest.approx((1.6 + 0.546) * 0.50)
    assert through_url["Lambda duration"] == through_api["Lambda duration"]
    assert sum(through_api.values()) - sum(through_url.values()) == pytest.approx(
        3.50 + 0.546 * 0.50
    )


def test_a_team_key_is_priced_by_its_own_write_units() -> None:
    team = cost.per_million(measured(wru=20.0, rru=0.15), 500.0, 1024, cost.FUNCTION_URL)
    assert team["DynamoDB writes"] == pytest.approx(20 * 0.625)
    assert team["DynamoDB reads"] == pytest.approx(0.15 * 0.125)


def test_the_always_on_break_even_is_the_volume_at_which_the_bills_are_equal() -> None:
    # $19 per million requests: 20 million requests cost $380, what the always-on one costs.
    assert cost.ALWAYS_ON_USD_PER_MONTH == 380.0
    assert cost.always_on_break_even(19.0) == pytest.approx(20_000_000)
    assert cost.always_on_break_even(7.6) == pytest.approx(50_000_000)


def table_rows(lines: list[str], first_header_cell: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose header starts with ``first_header_cell``, by
    their first cell."""

    def cells(line: str) -> list[str]:
        return [cell.strip().strip("*") for cell in line.strip("|").split("|")]

    start = next(
        i
        for i, line in enumerate(lines[:-1])
        if line.startswith("|")
        and lines[i + 1].startswith("|---")
        and cells(line)[0] == first_header_cell
    )
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows[cells(line)[0]] = cells(line)[1:]
    return rows


def test_the_cost_section_reports_both_keys_through_both_doors() -> None:
    plain, team = measured(wru=7.0, rru=0.05), measured(wru=20.0, rru=0.15)
    lines = cost.cost_tables({"plain": plain, "team": team}, 500.0)

    # Expected totals, from the inputs and the list prices written out here: 1,024 MB for
    # 500 ms at Groq + 14 ms added + 14 ms after the response (CPU at 1,024 MB slowed by
    # 1769 / 1024 - 1), stdout 1,600 B, the access log 546 B through API Gateway only.
    seconds = (500 + 14 + 14 + 14 * (1769 / 1024 - 1)) / 1000
    duration = seconds * 0.0000133334 * 1e6
    expected = {}
    for kind, wru, rru in (("plain", 7, 0.05), ("team", 20, 0.15)):
        for door, request_price, log_bytes in (
            ("API Gateway REST", 3.50, 1600 + 546),
            ("function URL", 0.0, 1600),
        ):
            expected[kind, door] = (
                request_price + 0.20 + duration + wru * 0.625 + rru * 0.125
            ) + log_bytes / 1e3 * 0.50
    columns = [("plain", "API Gateway REST"), ("plain", "function URL")]
    columns += [("team", "API Gateway REST"), ("team", "function URL")]

    items = table_rows(lines, "item (typical)")
    totals = [float(cell) for cell in items["gateway total"][1:]]
    assert totals == [pytest.approx(expected[column], abs=0.005) for column in columns]
    assert items["DynamoDB writes"][0].startswith("7 WRU / 20 WRU")

    shares = table_rows(lines, "model")
    book = default_price_book().prices
    for model in ("openai/gpt-oss-20b", "openai/gpt-oss-120b", "llama-3.1-8b-instant"):
        price = book[model]
        assert price.input_per_million is not None
        assert price.output_per_million is not None
        groq = float(price.input_per_million * 500 + price.output_per_million * 200)
        assert float(shares[model][0]) == pytest.approx(groq, abs=0.005)
        percents = [float(cell.rstrip(" %")) for cell in shares[model][1:]]
        assert percents == [
            pytest.approx(100 * expected[column] / groq, abs=0.05) for column in columns
        ]

    volumes = table_rows(lines, "")["requests a month"]
    assert [float(cell.removesuffix(" million")) for cell in volumes] == [
        pytest.approx(380 / expected[column], abs=0.05) for column in columns
    ]
