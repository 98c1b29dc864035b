"""The gateway's own AWS cost per million requests, from the figures a run measured and AWS
list prices, beside what the same requests cost at Groq. docs/cost.md explains each line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from groq_gateway.core.pricing import default_price_book
from groq_gateway_dev.devserver.template import TemplateModel

# Every price the model uses, in one place: AWS list prices for us-east-1 as published in
# November 2026 (docs/cost.md, "Prices", names each page), Groq's per token in prices.json.
API_GATEWAY_REST_PER_MILLION = 3.50  # aws.amazon.com/api-gateway/pricing, first 333 M a month
FUNCTION_URL_PER_MILLION = 0.0  # aws.amazon.com/lambda/pricing: a function URL has no price
LAMBDA_REQUESTS_PER_MILLION = 0.20  # aws.amazon.com/lambda/pricing
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334  # same, first 7.5 billion GB-seconds a month
DYNAMODB_WRU_PER_MILLION = 0.625  # aws.amazon.com/dynamodb/pricing/on-demand; a transactional
# write is 2 WRU per item <= 1 KB
DYNAMODB_RRU_PER_MILLION = 0.125  # same; a strongly consistent read <= 4 KB is 1 RRU
LOGS_INGESTED_PER_GB = 0.50  # aws.amazon.com/cloudwatch/pricing, standard class
XRAY_TRACES_PER_MILLION = 5.00  # aws.amazon.com/xray/pricing, traces recorded
SNAPSTART_CACHE_PER_GB_SECOND = 0.0000015046  # Python: per published version, minimum 3 hours
SNAPSTART_RESTORE_PER_GB = 0.0001397998  # Python: per restore (a cold start)
LAMBDA_MB_PER_VCPU = 1769  # Lambda gives one vCPU's worth of CPU at 1,769 MB
# An always-on alternative: AWS's LiteLLM-based guidance on ECS starts around this a month.
ALWAYS_ON_USD_PER_MONTH = 380.0


@dataclass(frozen=True)
class FrontDoor:
    """How requests reach the proxy (template parameter ``ProxyFrontDoor``)."""

    name: str
    slug: str  # in the figures' names
    per_million: float  # its own request price
    access_log: bool  # whether it writes an access log line per request


API_GATEWAY = FrontDoor(
    "API Gateway REST", "api_gateway", API_GATEWAY_REST_PER_MILLION, access_log=True
)
FUNCTION_URL = FrontDoor("function URL", "function_url", FUNCTION_URL_PER_MILLION, access_log=False)
FRONT_DOORS = (API_GATEWAY, FUNCTION_URL)

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


def per_million(
    measured: Measured, upstream_ms: float, memory_mb: int, door: FrontDoor = API_GATEWAY
) -> dict[str, float]:
    """Each line of the gateway's cost, in US dollars per million requests."""
    duration_s = lambda_duration_ms(measured, upstream_ms, memory_mb) / 1000
    access_log = measured.access_log_bytes if door.access_log else 0
    log_gb = (measured.log_bytes + access_log) * 1e6 / 1e9
    return {
        "Front door requests": door.per_million,
        "Lambda requests": LAMBDA_REQUESTS_PER_MILLION,
        "Lambda duration": memory_mb / 1024 * duration_s * LAMBDA_ARM64_PER_GB_SECOND * 1e6,
        "DynamoDB writes": measured.wru * DYNAMODB_WRU_PER_MILLION,
        "DynamoDB reads": measured.rru * DYNAMODB_RRU_PER_MILLION,
        "CloudWatch Logs ingestion": log_gb * LOGS_INGESTED_PER_GB,
    }


def always_on_break_even(usd_per_million: float) -> float:
    """Requests a month above which a flat ALWAYS_ON_USD_PER_MONTH costs less than the
    gateway's per-request cost (its costs that are not per request left out)."""
    return ALWAYS_ON_USD_PER_MONTH / usd_per_million * 1e6


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


def cost_tables(by_key: dict[str, Measured], typical_upstream_ms: float) -> list[str]:
    """The cost section of the report, as Markdown: for each key kind (``plain``, ``team``)
    measured in the run and each front door. The keys' figures differ in their DynamoDB
    units only (the same process served them)."""
    first = next(iter(by_key.values()))
    memory = first.memory_mb
    bench_upstream = first.bench_duration_ms - first.added_ms
    columns = [(kind, door) for kind in by_key for door in FRONT_DOORS]
    typical = {
        (kind, door.name): per_million(by_key[kind], typical_upstream_ms, memory, door)
        for kind, door in columns
    }
    bench = {
        (kind, door.name): per_million(by_key[kind], bench_upstream, memory, door)
        for kind, door in columns
    }
    totals = {column: sum(lines.values()) for column, lines in typical.items()}
    bench_ms = lambda_duration_ms(first, bench_upstream, memory)
    typical_ms = lambda_duration_ms(first, typical_upstream_ms, memory)
    keys = " / ".join(f"`{kind}`" for kind in by_key)
    basis = {
        "Front door requests": " / ".join(
            f"{door.name} ${door.per_million:.2f} per million" for door in FRONT_DOORS
        ),
        "Lambda requests": "1 invocation",
        "Lambda duration": f"{memory} MB x {typical_ms:.1f} billed ms",
        "DynamoDB writes": " / ".join(f"{m.wru:g} WRU" for m in by_key.values()) + f" ({keys})",
        "DynamoDB reads": " / ".join(f"{m.rru:g} RRU" for m in by_key.values()) + f" ({keys})",
        "CloudWatch Logs ingestion": f"{first.log_bytes:.0f} B proxy stdout + "
        f"{first.access_log_bytes} B access log (estimated; API Gateway only)",
    }
    header = " | ".join(f"`{kind}`, {door.name}" for kind, door in columns)
    lines = [
        f"Per million requests, us-east-1 list prices, ProxyFunction at {memory} MB arm64, for "
        f"a key without a team (`plain`) and a key in a team (`team`: key and team with "
        "per-minute limits and monthly budgets, the organisation's cap), through each front "
        "door (template parameter `ProxyFrontDoor`). Billed duration = Groq's time + the "
        f"{first.added_ms:.1f} ms the gateway adds before the last byte + "
        f"{first.after_response_ms:.1f} ms of after-response work (+ its "
        f"{first.cpu_ms:.1f} ms of CPU scaled to the memory's CPU share). 'Typical': Groq "
        f"answers {TYPICAL_PROMPT_TOKENS} prompt + {TYPICAL_COMPLETION_TOKENS} completion "
        f"tokens in {typical_upstream_ms:.0f} ms (an assumption), {typical_ms:.1f} ms billed.",
        "",
        f"| item (typical) | basis | {header} |",
        "|---|---|" + "---:|" * len(columns),
        *(
            f"| {item} | {basis[item]} | "
            + " | ".join(f"{typical[kind, door.name][item]:.2f}" for kind, door in columns)
            + " |"
            for item in basis
        ),
        "| **gateway total** | | "
        + " | ".join(f"**{totals[kind, door.name]:.2f}**" for kind, door in columns)
        + " |",
        "| total with the simulator's time ('bench') | "
        f"Groq {bench_upstream:.1f} ms, {bench_ms:.1f} ms billed | "
        + " | ".join(f"{sum(bench[kind, door.name].values()):.2f}" for kind, door in columns)
        + " |",
        "",
        f"Groq for the same million typical requests ({TYPICAL_PROMPT_TOKENS} prompt + "
        f"{TYPICAL_COMPLETION_TOKENS} completion tokens, prices.json), and the gateway's "
        "typical total as a share of it:",
        "",
        f"| model | Groq $/M | {header} |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for model in GROQ_MODELS:
        groq = groq_per_million(model)
        lines.append(
            f"| {model} | {groq:.2f} | "
            + " | ".join(f"{100 * totals[kind, door.name] / groq:.1f} %" for kind, door in columns)
            + " |"
        )
    lines += [
        "",
        f"An always-on alternative at about ${ALWAYS_ON_USD_PER_MONTH:.0f} a month costs less "
        "above these monthly volumes (typical requests; the gateway's costs that are not per "
        "request, below, left out):",
        "",
        f"| | {header} |",
        "|---|" + "---:|" * len(columns),
        "| requests a month | "
        + " | ".join(
            f"{always_on_break_even(totals[kind, door.name]) / 1e6:.1f} million"
            for kind, door in columns
        )
        + " |",
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
        f"measured {first.cpu_ms:.1f} ms of CPU per request by the smaller CPU share, "
        "an estimate):",
        "",
        f"| MemorySize | est. billed ms | Lambda duration $/M | {header} |",
        "|---:|---:|---:|" + "---:|" * len(columns),
    ]
    for size in (256, 512, 1024, 1769):
        sized = {
            (kind, door.name): per_million(by_key[kind], typical_upstream_ms, size, door)
            for kind, door in columns
        }
        duration = sized[columns[0][0], columns[0][1].name]["Lambda duration"]
        lines.append(
            f"| {size} MB | {lambda_duration_ms(first, typical_upstream_ms, size):.1f} | "
            f"{duration:.2f} | "
            + " | ".join(f"{sum(sized[kind, door.name].values()):.2f}" for kind, door in columns)
            + " |"
        )
    return lines
