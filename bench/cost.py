"""The gateway's own AWS cost per million requests, from the figures a run measured and AWS
list prices, beside what the same requests cost at Groq. docs/cost.md explains each line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from groq_gateway.core.pricing import default_price_book
from groq_gateway_dev.devserver.template import TemplateModel

# AWS list prices, us-east-1, as published in November 2026 (docs/cost.md names the pages).
API_GATEWAY_REST_PER_MILLION = 3.50  # first 333 million requests a month
LAMBDA_REQUESTS_PER_MILLION = 0.20
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334  # first 7.5 billion GB-seconds a month
DYNAMODB_WRU_PER_MILLION = 0.625  # on-demand; a transactional write is 2 WRU per item <= 1 KB
DYNAMODB_RRU_PER_MILLION = 0.125  # a strongly consistent read <= 4 KB is 1 RRU
LOGS_INGESTED_PER_GB = 0.50  # CloudWatch Logs, standard class
XRAY_TRACES_PER_MILLION = 5.00  # traces recorded
SNAPSTART_CACHE_PER_GB_SECOND = 0.0000015046  # Python: per published version, minimum 3 hours
SNAPSTART_RESTORE_PER_GB = 0.0001397998  # Python: per restore (a cold start)
LAMBDA_MB_PER_VCPU = 1769  # Lambda gives one vCPU's worth of CPU at 1,769 MB

TYPICAL_PROMPT_TOKENS = 500
TYPICAL_COMPLETION_TOKENS = 200
GROQ_MODELS = ("openai/gpt-oss-20b", "openai/gpt-oss-120b", "llama-3.1-8b-instant")

# Typical values for API Gateway's access log variables (an estimate of the line's size).
_ACCESS_LOG_SAMPLE = {
    "requestId": "c0ffee00-1234-4321-abcd-0123456789ab",
    "extendedRequestId": "Aa0Bb1Cc2Dd3Ee4=",
    "requestTime": "26/Nov/2026:17:08:56 +0000",
    "identity.sourceIp": "203.0.113.10",
    "identity.userAgent": "OpenAI/Python 1.60.0",
    "httpMethod": "POST",
    "resourcePath": "/openai/v1/{proxy+}",
    "path": "/prod/openai/v1/chat/completions",
    "protocol": "HTTP/1.1",
    "status": "200",
    "responseLength": "1450",
    "responseLatency": "640",
    "integration.latency": "635",
    "integration.status": "200",
    "xrayTraceId": "Root=1-67891233-abcdef012345678912345678",
}


@dataclass(frozen=True)
class Measured:
    """What the cost model takes from a run."""

    memory_mb: int  # ProxyFunction's MemorySize in template.yaml
    bench_duration_ms: float  # p50 total of a non-streamed request through the gateway
    added_ms: float  # p50 of what the gateway adds to it
    after_response_ms: float  # p50 from the last byte to the end of the after-response work
    cpu_ms: float  # the proxy process's CPU time per request (under load)
    wru: float  # DynamoDB write request units per request
    rru: float  # DynamoDB read request units per request
    log_bytes: float  # proxy stdout (log line and EMF metrics) per request
    access_log_bytes: int  # API Gateway's access log line (estimated from its format)


def access_log_bytes(template: TemplateModel) -> int:
    """The size of one access log line: template.yaml's format with typical values."""
    api = template.resources["GatewayApi"]["Properties"]
    line = re.sub(
        r"\$context\.([A-Za-z.]+)",
        lambda m: _ACCESS_LOG_SAMPLE.get(m.group(1), "-"),
        api["AccessLogSetting"]["Format"],
    )
    return len(line.encode()) + 1


def lambda_duration_ms(measured: Measured, upstream_ms: float, memory_mb: int) -> float:
    """Estimated billed duration: Groq's time, what the gateway adds before the last byte and
    its after-response work (the post-response extension holds the invocation for it), its
    CPU part slowed by the smaller CPU share below 1,769 MB (an estimate, not a measurement)."""
    slowdown = max(0.0, LAMBDA_MB_PER_VCPU / memory_mb - 1)
    return upstream_ms + measured.added_ms + measured.after_response_ms + measured.cpu_ms * slowdown


def per_million(measured: Measured, upstream_ms: float, memory_mb: int) -> dict[str, float]:
    """Each line of the gateway's cost, in US dollars per million requests."""
    duration_s = lambda_duration_ms(measured, upstream_ms, memory_mb) / 1000
    log_gb = (measured.log_bytes + measured.access_log_bytes) * 1e6 / 1e9
    return {
        "API Gateway (REST) requests": API_GATEWAY_REST_PER_MILLION,
        "Lambda requests": LAMBDA_REQUESTS_PER_MILLION,
        "Lambda duration": memory_mb / 1024 * duration_s * LAMBDA_ARM64_PER_GB_SECOND * 1e6,
        "DynamoDB writes": measured.wru * DYNAMODB_WRU_PER_MILLION,
        "DynamoDB reads": measured.rru * DYNAMODB_RRU_PER_MILLION,
        "CloudWatch Logs ingestion": log_gb * LOGS_INGESTED_PER_GB,
    }


def xray_per_million(requests_per_month: int) -> float:
    """X-Ray's cost per million requests under the default sampling rule, traffic even."""
    rate = requests_per_month / (30 * 86400)
    traced = min(rate, 1.0) + 0.05 * max(0.0, rate - 1.0)
    return XRAY_TRACES_PER_MILLION * traced / rate


def snapstart_cache_per_month(memory_mb: int) -> float:
    return memory_mb / 1024 * 30 * 86400 * SNAPSTART_CACHE_PER_GB_SECOND


def snapstart_restore(memory_mb: int) -> float:
    return memory_mb / 1024 * SNAPSTART_RESTORE_PER_GB


def groq_per_million(model: str) -> float:
    """Dollars per million typical requests (= micro-dollars per request), prices.json."""
    price = default_price_book().prices[model]
    if price.input_per_million is None or price.output_per_million is None:
        raise ValueError(f"{model} has no token prices")
    return float(
        price.input_per_million * TYPICAL_PROMPT_TOKENS
        + price.output_per_million * TYPICAL_COMPLETION_TOKENS
    )


def cost_tables(measured: Measured, typical_upstream_ms: float) -> list[str]:
    """The cost section of the report, as Markdown."""
    memory = measured.memory_mb
    bench_upstream = measured.bench_duration_ms - measured.added_ms
    bench, typical = (
        per_million(measured, ms, memory) for ms in (bench_upstream, typical_upstream_ms)
    )
    bench_ms = lambda_duration_ms(measured, bench_upstream, memory)
    basis = {
        "API Gateway (REST) requests": "1 request",
        "Lambda requests": "1 invocation",
        "Lambda duration": f"{memory} MB x billed ms",
        "DynamoDB writes": f"{measured.wru:g} WRU",
        "DynamoDB reads": f"{measured.rru:g} RRU",
        "CloudWatch Logs ingestion": f"{measured.log_bytes:.0f} B proxy stdout + "
        f"{measured.access_log_bytes} B access log (estimated)",
    }
    typical_ms = lambda_duration_ms(measured, typical_upstream_ms, memory)
    lines = [
        f"Per million requests, us-east-1 list prices, ProxyFunction at {measured.memory_mb} MB "
        f"arm64. Billed duration = Groq's time + the {measured.added_ms:.1f} ms the gateway "
        f"adds before the last byte + {measured.after_response_ms:.1f} ms of after-response "
        "work (+ its CPU time scaled to the memory's CPU share). 'bench': Groq's time is the "
        f"simulator's ({bench_upstream:.1f} ms, {bench_ms:.1f} ms billed); 'typical': Groq "
        f"answers {TYPICAL_PROMPT_TOKENS} prompt + {TYPICAL_COMPLETION_TOKENS} completion "
        f"tokens in {typical_upstream_ms:.0f} ms (an assumption), {typical_ms:.1f} ms billed.",
        "",
        "| item | basis | bench $/M | typical $/M |",
        "|---|---|---:|---:|",
        *(
            f"| {item} | {basis[item]} | {bench[item]:.2f} | {typical[item]:.2f} |"
            for item in bench
        ),
        f"| **gateway total** | | **{sum(bench.values()):.2f}** "
        f"| **{sum(typical.values()):.2f}** |",
        "",
        f"Groq for the same million typical requests ({TYPICAL_PROMPT_TOKENS} prompt + "
        f"{TYPICAL_COMPLETION_TOKENS} completion tokens, prices.json):",
        "",
        "| model | Groq $/M | gateway (typical) as % of Groq |",
        "|---|---:|---:|",
    ]
    for model in GROQ_MODELS:
        groq = groq_per_million(model)
        lines.append(f"| {model} | {groq:.2f} | {100 * sum(typical.values()) / groq:.1f} % |")
    lines += [
        "",
        "Not per request, or not linear in requests (same prices):",
        "",
        *(
            f"- X-Ray (`Tracing: Active`, default sampling: the first request each second and "
            f"5 % of the rest) at {volume:,} requests a month, evenly spread: "
            f"{xray_per_million(volume):.2f} $/M."
            for volume in (1_000_000, 100_000_000)
        ),
        f"- SnapStart at {memory} MB: {snapstart_cache_per_month(memory):.2f} $ a month per "
        f"published version cached, {snapstart_restore(memory) * 1e6:.0f} $ per million restores "
        "(cold starts).",
        "",
        "Memory size against cost (typical request; durations below 1,769 MB scale the "
        f"measured {measured.cpu_ms:.1f} ms of CPU per request by the smaller CPU share, "
        "an estimate):",
        "",
        "| MemorySize | est. billed ms | Lambda duration $/M | gateway total $/M | "
        f"% of {GROQ_MODELS[0]} |",
        "|---:|---:|---:|---:|---:|",
    ]
    groq = groq_per_million(GROQ_MODELS[0])
    for size in (256, 512, 1024, 1769):
        costs = per_million(measured, typical_upstream_ms, size)
        lines.append(
            f"| {size} MB | {lambda_duration_ms(measured, typical_upstream_ms, size):.1f} | "
            f"{costs['Lambda duration']:.2f} | {sum(costs.values()):.2f} | "
            f"{100 * sum(costs.values()) / groq:.1f} % |"
        )
    return lines
