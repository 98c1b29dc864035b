"""``python -m bench.run`` (``make bench``): what the gateway adds, measured in one run on
this machine against the Groq simulator and moto's server, compared with bench/baseline.json.

Prints a Markdown report (docs/performance.md and docs/cost.md quote one). Exits non-zero
only with ``--strict`` when a figure is worse than the baseline beyond its tolerance.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cost, measure, startup
from bench.measure import MODES, Samples, Target, percentile
from bench.report import Figures, compare, load_baseline, save_baseline, table
from bench.stack import ROOT, CountingProxy, LocalStack, local_stack, start_gateway
from groq_gateway.core.limits import admission_plan
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import GatewayKey, SecretVersion
from groq_gateway.core.settings import Settings
from groq_gateway.store import GatewayStore

BASELINE = ROOT / "bench" / "baseline.json"
MODE_NAMES = {"json": "non-streamed", "stream": "streamed"}
WARMUP = 10  # requests per target and mode before latency samples are kept
# p99s are reported against the baseline but not judged: the five slowest of 400 samples
# decide them, and moto's periodic stalls (docs/performance.md) land in them or not from run
# to run.
TAIL = "info"
IMPORT_LABELS = {  # startup.IMPORTS, as the report names them
    "base": "`import boto3, httpx` (the yardstick)",
    "code": "`import groq_gateway.proxy.app` (the proxy's code)",
    "init": "`import app` (functions/proxy/app.py: code + create_app())",
    "pydantic": "the yardstick and the proxy's pydantic models (records, settings, prices)",
}
WITHOUT_PYDANTIC = "the proxy's code less what its pydantic models add to the yardstick"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    add = parser.add_argument
    add("--samples", type=int, default=400, help="latency samples per target and mode")
    add("--latency-ms", type=float, default=50.0, help="the simulator's latency")
    add("--chunk-interval-ms", type=float, default=2.0, help="the simulator's stream pace")
    add("--max-tokens", type=int, default=16, help="completion tokens (stream chunks) per reply")
    add("--concurrency", type=int, default=16, help="clients in the throughput test")
    add("--duration", type=float, default=8.0, help="seconds of load per throughput target")
    add("--count-requests", type=int, default=40, help="requests per key when counting calls")
    add("--cold-starts", type=int, default=3, help="fresh proxy processes to start")
    add("--import-repeat", type=int, default=9, help="fresh interpreters per import timing")
    add("--typical-upstream-ms", type=float, default=500.0, help="assumed Groq time (cost)")
    add(
        "--skip-build",
        action="store_true",
        help="do not build (no sizes, no python3.13 imports from the built layer)",
    )
    add("--baseline", type=Path, default=BASELINE)
    add("--update-baseline", action="store_true", help="write this run's figures as baseline")
    add("--strict", action="store_true", help="exit 1 if a figure is worse than the baseline")
    add("--output", type=Path, help="also write the report to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures = Figures()
    facts = machine_facts(args)
    report = [f"# groq-gateway benchmark, {datetime.date.today().isoformat()}", "", *facts]
    started = time.monotonic()
    if not args.skip_build:
        report += sizes(figures)
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        local_stack(args.latency_ms, args.chunk_interval_ms) as local,
    ):
        report += cold_start(args, local, Path(tmp), figures)
        if not args.skip_build:
            report += layer_cold_start(args, local, figures)
        report += warm_path(args, local, Path(tmp), figures)
        report += cost_section(args, local, figures)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report += ["", f"Run took {time.monotonic() - started:.0f} s; load average at the end: {load}."]

    baseline = load_baseline(args.baseline)
    comparison, worse = compare(figures, baseline)
    report += ["", f"## Against the baseline ({args.baseline})", "", *comparison]
    print("\n".join(report))
    if args.output:
        args.output.write_text("\n".join(report) + "\n")
    if worse:
        print(
            f"\n{len(worse)} figure(s) worse than the baseline beyond tolerance: "
            + ", ".join(worse)
            + ("" if args.strict else "\n(informational; --strict makes this an error)"),
            file=sys.stderr,
        )
    if args.update_baseline:
        context = {"recorded": datetime.date.today().isoformat(), "machine": facts[0]}
        save_baseline(args.baseline, figures, context)
        print(f"\nbaseline written to {args.baseline}", file=sys.stderr)
    return 1 if worse and args.strict else 0


def machine_facts(args: argparse.Namespace) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"Machine: {os.cpu_count()} CPUs ({cpu}), {memory_kb / 1024 / 1024:.1f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}. "
        f"Load average at the start: {load}.",
        f"Command: `python -m bench.run{''.join(' ' + a for a in sys.argv[1:])}` (`make bench`). "
        f"Simulator: {args.latency_ms:g} ms before the first byte, {args.chunk_interval_ms:g} ms "
        f"between stream chunks, {args.max_tokens} completion tokens per reply.",
    ]


def sizes(figures: Figures) -> list[str]:
    try:
        artefacts = startup.artefact_sizes()
    except RuntimeError as error:  # e.g. no python3.13 on PATH (make bench provides it)
        print(error, file=sys.stderr)
        return ["", "## Build artefacts: `sam build` failed, see stderr (`make bench` works)"]
    rows = []
    for name, (zipped, unzipped) in artefacts.items():
        figures.add(f"size.{name}.zipped", zipped, "bytes")
        rows.append([name, f"{zipped:,}", f"{unzipped:,}"])
    return [
        "",
        "## Build artefacts (`sam build`, zipped)",
        "",
        *table(["artefact", "zipped bytes", "unzipped bytes"], rows),
    ]


def warm_path(
    args: argparse.Namespace, local: LocalStack, tmp: Path, figures: Figures
) -> list[str]:
    gateway = start_gateway(local.proxy_env, tmp / "gateway.log")
    counter = CountingProxy(local.moto.url)
    counted = start_gateway(local.env_with(AWS_ENDPOINT_URL=counter.url), tmp / "counted.log")
    try:
        gateway.wait_ready()
        counted.wait_ready()
        direct = Target("direct", local.simulator.url, local.upstream_key)
        through = Target("gateway", gateway.url, local.keys["plain"])

        probe, probe_shape = admission_probe(local)
        trips = measure.RoundTrips(local.dynamodb(), local.table_name, probe)
        hop = asyncio.run(measure.health_round_trips(gateway.url, 200))
        offset, cpu = gateway.stdout.stat().st_size, measure.cpu_seconds(gateway.pid)
        samples = asyncio.run(
            measure.latency([direct, through], args.samples, args.max_tokens, WARMUP, trips)
        )
        gateway_requests = (args.samples + WARMUP) * len(MODES)
        cpu_ms = (measure.cpu_seconds(gateway.pid) - cpu) * 1000 / gateway_requests
        figures.add("latency.proxy_cpu_ms_per_request", cpu_ms, "ms")
        logged = measure.log_bytes(gateway.stdout, offset)
        after = measure.logged_values(gateway.stdout, offset, "after_response_ms")
        lines = latency_section(
            samples, {**trips.times, "GET /healthz": hop}, cpu_ms, after, figures, probe_shape
        )

        counts = {
            kind: asyncio.run(
                measure.count_calls(
                    Target("gateway", counted.url, key),
                    counter,
                    args.count_requests,
                    args.max_tokens,
                    counted.pid,
                )
            )
            for kind, key in local.keys.items()
        }
        lines += calls_section(counts, figures)

        lines += throughput_section(args, local, direct, through, gateway.pid, figures)
        figures.add("logs.emf_bytes_per_request", logged["emf"] / gateway_requests, "bytes")
        figures.add("logs.log_bytes_per_request", logged["log"] / gateway_requests, "bytes")
        lines += [
            "",
            f"Proxy stdout per request (log level {local.proxy_env.get('POWERTOOLS_LOG_LEVEL')}, "
            f"{gateway_requests} requests): {logged['emf'] / gateway_requests:.0f} bytes of "
            "request lines (one EMF document each: the metrics and the log fields) + "
            f"{logged['log'] / gateway_requests:.0f} bytes of other log lines.",
        ]
        return lines
    finally:
        for process in (gateway, counted):
            process.stop()
        counter.close()


def admission_probe(local: LocalStack) -> tuple[Callable[[], object], str]:
    """The proxy's admission write for a key like ``plain`` on a warm instance, sent from this
    process on a probe key's own counters: its minute window, and the organisation's month
    too when organisation budget leases are off (with them, the request's cost is held on
    the instance's lease in memory)."""
    store = GatewayStore(local.table_name, client=local.dynamodb())
    settings = Settings.from_env(local.proxy_env)
    org_cap = None if settings.org_lease_micros else settings.org_cap_micros
    now = utcnow()
    probe = GatewayKey.model_validate(
        {
            "key_id": "benchprobe0000000000",
            "name": "bench-probe",
            "created_at": now,
            "updated_at": now,
            "secrets": [
                SecretVersion(secret_hash="0" * 64, display_prefix="gk_probe", created_at=now)
            ],
            "requests_per_minute": 1_000_000,
            "tokens_per_minute": 1_000_000_000,
        }
    )

    def admit() -> object:
        plan = admission_plan(probe, None, org_cap, utcnow(), estimated_tokens=64, cost_micros=0)
        return store.counters.admit(plan)

    shape = (
        "a conditional `UpdateItem` of its minute window, the organisation's share held on the "
        "instance's budget lease"
        if org_cap is None
        else "a two-item transaction with its conditions: its minute window and the "
        "organisation's month"
    )
    return admit, shape


def latency_section(
    samples: dict[tuple[str, str], Samples],
    trips: dict[str, list[float]],
    cpu_ms: float,
    after_response: list[float],
    figures: Figures,
    admission_shape: str,
) -> list[str]:
    rtt = {name: (percentile(ms, 50), percentile(ms, 99)) for name, ms in trips.items()}
    unit, admit, hop = rtt["UpdateItem"][0], rtt["admission"][0], rtt["GET /healthz"][0]
    figures.add("dynamodb.update_item.p50_ms", rtt["UpdateItem"][0], "ms")
    figures.add("dynamodb.update_item.p99_ms", rtt["UpdateItem"][1], "ms", TAIL)
    figures.add("dynamodb.transact_2_items.p50_ms", rtt["TransactWriteItems"][0], "ms")
    figures.add("dynamodb.transact_2_items.p99_ms", rtt["TransactWriteItems"][1], "ms", TAIL)
    figures.add("dynamodb.admission.p50_ms", rtt["admission"][0], "ms")
    figures.add("dynamodb.admission.p99_ms", rtt["admission"][1], "ms", TAIL)
    figures.add("latency.healthz.p50_ms", rtt["GET /healthz"][0], "ms")
    after_p50 = percentile(after_response, 50)
    figures.add("latency.after_response.p50_ms", after_p50, "ms")
    rows = []
    for mode in MODES:
        for what in ("ttfb", "total"):
            direct = getattr(samples["direct", mode], what)
            through = getattr(samples["gateway", mode], what)
            row: list[Any] = [f"{MODE_NAMES[mode]}, {'first byte' if what == 'ttfb' else 'total'}"]
            added = []
            for q in (50, 99):
                d, g = percentile(direct, q), percentile(through, q)
                added.append(g - d)
                key, judged = f"latency.{mode}.{what}.p{q}", "lower" if q == 50 else TAIL
                figures.add(f"{key}.gateway_ms", g, "ms", judged)
                figures.add(f"{key}.added_ms", g - d, "ms", judged)
                figures.add(f"{key}.added_round_trips", (g - d) / unit, "ratio", judged)
                row += [d, g, g - d]
            met = added[0] <= 1.5 * unit and added[1] <= 3 * unit
            row += [added[0] / unit, added[1] / unit, "yes" if met else "no"]
            rows.append(row)
    header = [
        "request, time to",
        "direct p50",
        "gateway p50",
        "added p50",
        "direct p99",
        "gateway p99",
        "added p99",
        "added p50 / RTT",
        "added p99 / RTT",
        "target met",
    ]
    n = len(samples["direct", "json"].ttfb)
    first_byte = figures["latency.json.ttfb.p50.added_ms"].value
    return [
        "",
        f"## Added latency (ms; {n} sequential requests per row and side, interleaved)",
        "",
        *table(header, rows),
        "",
        "RTT = one DynamoDB `UpdateItem` round trip (`ADD n :one`, no condition) from a Python "
        "process to moto's server, sampled after each round of the requests above (once the "
        f"round's after-response work is done): p50 {unit:.2f} ms (p99 "
        f"{rtt['UpdateItem'][1]:.2f} ms). A two-item `TransactWriteItems` of the same plain "
        f"updates: p50 {rtt['TransactWriteItems'][0]:.2f} ms (p99 "
        f"{rtt['TransactWriteItems'][1]:.2f} ms). The gateway's own admission write for a key "
        f"like this one on a warm instance ({admission_shape}), sent the same way: p50 "
        f"{admit:.2f} ms (p99 {rtt['admission'][1]:.2f} ms) = {admit / unit:.2f} RTT. `GET "
        f"/healthz` through the proxy process (the HTTP hop alone): p50 {hop:.2f} ms. Target: "
        "added p50 <= 1.5 RTT, added p99 <= 3 RTT.",
        "",
        f"Of the {first_byte:.1f} ms added before the first byte (non-streamed, p50): the "
        f"admission write ~{admit:.1f} ms, the HTTP hop ~{hop:.1f} ms, the remaining "
        f"~{first_byte - admit - hop:.1f} ms is the proxy's own work (its Python, the hand-off "
        "of the write to a worker thread, the second HTTP client). The proxy process used "
        f"{cpu_ms:.2f} ms of CPU per request (half streamed, after-response work included).",
        "",
        "After the response's last byte each request still settles and logs (the client does "
        "not wait; in Lambda the post-response extension holds the environment, and the time is "
        f"billed): p50 {after_p50:.1f} ms from the last byte to the log line "
        f"(`after_response_ms`, {len(after_response)} requests).",
    ]


def calls_section(counts: dict[str, measure.CallCounts], figures: Figures) -> list[str]:
    writes_ops = ("UpdateItem", "PutItem", "TransactWriteItems", "DeleteItem")
    reads_ops = ("GetItem", "Query", "BatchGetItem")

    def per_request(calls: Counter[str], ops: tuple[str, ...], n: int) -> float:
        return sum(v for k, v in calls.items() if k.split(":")[1] in ops) / n

    rows = []
    for kind, c in counts.items():
        n = c.requests
        calls = {name.split(":")[1]: count / n for name, count in c.calls.items()}
        writes = per_request(c.calls, writes_ops, n)
        reads = per_request(c.calls, reads_ops, n)
        early_writes = per_request(c.before_first_byte, writes_ops, n)
        early_reads = per_request(c.before_first_byte, reads_ops, n)
        # Weighed per item written: 1 WRU per KB started (2 in a transaction), +1 for the
        # index copy of an item with gsi1 keys (bench/stack.py write_units).
        wru = sum(c.write_units.values()) / n
        secrets = c.calls.get("secretsmanager:GetSecretValue", 0) / n
        cpu_early, cpu_late = c.cpu_before_first_byte_ms / n, c.cpu_after_first_byte_ms / n
        figures.add(f"calls.{kind}.cpu_ms_before_first_byte", cpu_early, "ms")
        figures.add(f"calls.{kind}.cpu_ms_after_first_byte", cpu_late, "ms")
        figures.add(f"calls.{kind}.writes_per_request", writes, "count")
        figures.add(f"calls.{kind}.reads_per_request", reads, "count")
        figures.add(f"calls.{kind}.writes_before_first_byte", early_writes, "count")
        figures.add(f"calls.{kind}.reads_before_first_byte", early_reads, "count")
        figures.add(f"calls.{kind}.wru_per_request", wru, "count")
        rows.append(
            [
                kind,
                n,
                f"{early_writes:.2f}",
                f"{early_reads:.3f}",
                f"{writes:.2f}",
                f"{reads:.3f}",
                f"{calls.get('UpdateItem', 0):.2f}",
                f"{calls.get('TransactWriteItems', 0):.2f}",
                f"{sum(c.items_written.values()) / n:.2f}",
                f"{wru:.2f}",
                f"{secrets:.3f}",
                f"{cpu_early:.1f} / {cpu_late:.1f}",
            ]
        )
    header = [
        "key",
        "requests",
        "writes before the first byte",
        "reads before the first byte",
        "writes in all",
        "reads in all",
        "UpdateItem",
        "TransactWriteItems",
        "items written",
        "WRU",
        "GetSecretValue",
        "proxy CPU ms before / after the first byte",
    ]
    return [
        "",
        "## AWS calls per proxied request (warm instance; counted between the proxy and moto)",
        "",
        *table(header, rows),
        "",
        "`plain`: a key with per-minute limits, no team (admission counts its minute window; "
        "the organisation's share is held on the instance's budget lease). `team`: a key in a "
        "team, both with limits and monthly budgets (four counters, all in the team's counter "
        "item). Half the "
        "requests streamed, one at a time, each followed by "
        f"{measure.AFTER_RESPONSE_PAUSE * 1000:.0f} ms for its after-response work; 'before the "
        "first byte' counts the calls between sending a request and its first response byte, "
        "'in all' adds those after the response (settlement; a cached record past half its 5 s "
        "life read again, KEY_CACHE_SECONDS). The upstream key is cached for 60 s. WRU: each "
        "item written weighed as DynamoDB on demand bills it, from its size after the write: "
        "1 per KB started (2 in a transaction), and 1 more for its copy in gsi1 when it has "
        "the index's keys (a team key's metering item). A refused conditional write is "
        "billed too and is counted. Proxy CPU: the process's `/proc` CPU time from sending "
        "each request to its first response byte, and from there to the end of its "
        "after-response pause, summed over the requests (10 ms clock ticks: an average over "
        "many requests, not a per-request figure).",
    ]


def throughput_section(
    args: argparse.Namespace,
    local: LocalStack,
    direct: Target,
    through: Target,
    gateway_pid: int,
    figures: Figures,
) -> list[str]:
    pids = {
        "proxy": gateway_pid,
        "moto": local.moto.process.pid,
        "simulator": local.simulator.process.pid,
    }
    rows = []
    cpu_through: dict[str, float] = {}
    for target in (direct, through):
        before = {name: measure.cpu_seconds(pid) for name, pid in pids.items()}
        load = asyncio.run(
            measure.throughput(target, args.concurrency, args.duration, args.max_tokens)
        )
        cpu = {
            name: (measure.cpu_seconds(pid) - before[name]) * 1000 / max(1, load.completed)
            for name, pid in pids.items()
        }
        figures.add(f"throughput.{target.name}.rps", load.rps, "rps", better="higher")
        figures.add(f"throughput.{target.name}.p50_ms", percentile(load.latencies, 50), "ms")
        if target is through:
            cpu_through = cpu
            figures.add("throughput.gateway.proxy_cpu_ms_per_request", cpu["proxy"], "ms")
        rows.append(
            [
                target.name,
                f"{load.rps:.0f}",
                load.errors,
                percentile(load.latencies, 50),
                percentile(load.latencies, 99),
                cpu["proxy"] if target is through else "-",
                cpu["moto"] if target is through else "-",
                cpu["simulator"],
            ]
        )
    rss = figures.add("memory.proxy_peak_rss_mb", measure.peak_rss_mb(gateway_pid), "MB")
    proxy_cpu, moto_cpu = cpu_through["proxy"], cpu_through["moto"]
    header = [
        "target",
        "requests/s",
        "errors",
        "p50 ms",
        "p99 ms",
        "proxy CPU ms/req",
        "moto CPU ms/req",
        "simulator CPU ms/req",
    ]
    return [
        "",
        f"## Throughput ({args.concurrency} concurrent clients, {args.duration:g} s per target, "
        "non-streamed; load generator, proxy, moto and simulator share the machine's CPUs)",
        "",
        *table(header, rows),
        "",
        f"Proxy process peak RSS (VmHWM) after every phase above: {rss:.1f} MB. At "
        f"{proxy_cpu:.1f} ms of CPU per request the proxy alone would serve about "
        f"{1000 / proxy_cpu:.0f} requests/s per core; here moto's server (one request at a "
        f"time, {moto_cpu:.1f} ms of CPU per gateway request) bounds the gateway.",
    ]


def cold_start(
    args: argparse.Namespace, local: LocalStack, tmp: Path, figures: Figures
) -> list[str]:
    env = local.proxy_env
    startup.compile_sources()
    imports: dict[tuple[str, bool], float] = {}
    for lambda_set in (True, False):
        medians = startup.import_medians(
            startup.IMPORTS, env, lambda_packages=lambda_set, repeat=args.import_repeat
        )
        for name, ms in medians.items():
            imports[name, lambda_set] = ms
            figures.add(
                f"coldstart.import_{name}.{'lambda' if lambda_set else 'venv'}_ms", ms, "ms"
            )
    base = imports["base", True]
    body = measure.chat_body("json", args.max_tokens)
    starts = [
        startup.cold_start(env, local.keys["plain"], body, tmp) for _ in range(args.cold_starts)
    ]
    median = {
        field: statistics.median(getattr(s, field) for s in starts)
        for field in ("ready_ms", "first_ms", "first_request_ms", "second_request_ms")
    }
    for field, value in median.items():
        figures.add(f"coldstart.{field}", value, "ms")
    figures.add("coldstart.import_code.ratio", imports["code", True] / base, "ratio")
    figures.add("coldstart.import_init.ratio", imports["init", True] / base, "ratio")
    rows: list[list[Any]] = [
        [IMPORT_LABELS[name], imports[name, True], imports[name, True] / base, imports[name, False]]
        for name in startup.IMPORTS
    ]
    rows += [
        [
            "process start to ready (`/healthz` 200, uvicorn as run.sh)",
            median["ready_ms"],
            median["ready_ms"] / base,
            "-",
        ],
        [
            "process start to the end of the first proxied response",
            median["first_ms"],
            median["first_ms"] / base,
            "-",
        ],
        [
            "the first proxied request alone (cold clients and caches)",
            median["first_request_ms"],
            "-",
            "-",
        ],
        ["the second request (warm)", median["second_request_ms"], "-", "-"],
    ]
    breakdown = startup.import_breakdown(env)
    return [
        "",
        f"## Cold start (ms; medians of {args.import_repeat} fresh interpreters per import, the "
        f"imports taking turns; {args.cold_starts} fresh proxy processes)",
        "",
        *table(["what", "ms (Lambda's packages)", "x yardstick", "ms (this venv)"], rows),
        "",
        "Lambda's packages: the packages this venv has and Lambda does not (awscrt, pyOpenSSL, "
        "cryptography, rich, pygments) made unimportable, as in every proxy process of this run. "
        "Target: the proxy's import at most 1.5 x the yardstick.",
        "",
        "What `import groq_gateway.proxy.app` adds to the yardstick (self time, ms):",
        "",
        *table(["package", "ms"], [[p, ms] for p, ms in breakdown]),
    ]


def layer_cold_start(args: argparse.Namespace, local: LocalStack, figures: Figures) -> list[str]:
    try:
        times = startup.layer_imports(local.proxy_env, args.import_repeat)
    except RuntimeError as error:  # e.g. no python3.13 on PATH (make bench provides it)
        print(error, file=sys.stderr)
        return ["", "## Cold start in python3.13: the layer's build failed, see stderr"]
    rows = []
    for name, label in IMPORT_LABELS.items():
        row: list[Any] = [label]
        for kind in ("bytecode", "source"):
            ms = times[kind][name]
            figures.add(f"coldstart.py313.import_{name}.{kind}_ms", ms, "ms")
            row += [ms, ms / times[kind]["base"]]
        rows.append(row)
    row = [WITHOUT_PYDANTIC]
    for kind in ("bytecode", "source"):
        ms = times[kind]["code"] - (times[kind]["pydantic"] - times[kind]["base"])
        row += [ms, ms / times[kind]["base"]]
    rows.append(row)
    figures.add(
        "coldstart.py313.import_code.ratio",
        times["bytecode"]["code"] / times["bytecode"]["base"],
        "ratio",
    )
    figures.add(
        "coldstart.py313.import_code_without_pydantic.ratio",
        row[1] / times["bytecode"]["base"],
        "ratio",
    )
    return [
        "",
        f"## Cold start in Lambda's Python: python3.13, GatewayLayer as built (ms; medians of "
        f"{args.import_repeat}, taking turns)",
        "",
        *table(
            [
                "what",
                "with the layer's bytecode",
                "x yardstick",
                "without bytecode",
                "x yardstick",
            ],
            rows,
        ),
        "",
        "The layer built by layers/gateway/Makefile for this machine's platform, imported by "
        "python3.13 with boto3 beside it (the runtime's, with its bytecode). *Without bytecode*: "
        "the same files without any, as SAM's python builder shipped the layer; Lambda's /opt "
        "is read-only, so each cold start compiled every module it imported. The last row "
        "estimates the proxy's code without pydantic: its records, settings and price book "
        "would then be plain classes, whose own import is not counted.",
    ]


def cost_section(args: argparse.Namespace, local: LocalStack, figures: Figures) -> list[str]:
    template = local.template
    memory = int(template.resources["ProxyFunction"]["Properties"]["MemorySize"])
    by_key = {
        kind: cost.Measured(
            memory_mb=memory,
            bench_duration_ms=figures["latency.json.total.p50.gateway_ms"].value,
            added_ms=figures["latency.json.total.p50.added_ms"].value,
            after_response_ms=figures["latency.after_response.p50_ms"].value,
            cpu_ms=figures["latency.proxy_cpu_ms_per_request"].value,
            wru=figures[f"calls.{kind}.wru_per_request"].value,
            rru=figures[f"calls.{kind}.reads_per_request"].value,
            log_bytes=figures["logs.emf_bytes_per_request"].value
            + figures["logs.log_bytes_per_request"].value,
            access_log_bytes=cost.access_log_bytes(template),
        )
        for kind in local.keys
    }
    for kind, measured in by_key.items():
        for door in cost.FRONT_DOORS:
            typical = cost.per_million(measured, args.typical_upstream_ms, memory, door)
            # The API Gateway figure of `plain` keeps the name the baseline knows it by.
            key = (
                "cost.gateway_typical_usd_per_million"
                if (kind, door) == ("plain", cost.API_GATEWAY)
                else f"cost.{kind}.{door.slug}.typical_usd_per_million"
            )
            figures.add(key, sum(typical.values()), "USD")
    return [
        "",
        "## Cost per million requests (see docs/cost.md)",
        "",
        *cost.cost_tables(by_key, args.typical_upstream_ms),
    ]


if __name__ == "__main__":
    sys.exit(main())
