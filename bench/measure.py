"""Warm-path measurements: latency gateway vs direct, DynamoDB round trips, calls per
request, throughput, and what a process used (CPU time, peak memory, log bytes)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

MODEL = "openai/gpt-oss-20b"
MODES = ("json", "stream")


@dataclass(frozen=True)
class Target:
    """Where a request goes: the simulator directly (with the upstream key) or the gateway."""

    name: str
    base_url: str  # host root; requests go to <base_url>/openai/v1/chat/completions
    key: str

    @property
    def url(self) -> str:
        return f"{self.base_url}/openai/v1/chat/completions"

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}", "content-type": "application/json"}


def chat_body(mode: str, max_tokens: int) -> bytes:
    """A chat completion; streams ask for the usage chunk, so that the simulator sends the
    same chunks whether the gateway (which always asks for it) or the bench calls it."""
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Benchmark: answer with a few words."}],
        "max_tokens": max_tokens,
    }
    if mode == "stream":
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(body).encode()


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 400 samples is the fifth largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Samples:
    ttfb: list[float] = field(default_factory=list)  # ms to the first body byte
    total: list[float] = field(default_factory=list)  # ms to the end of the response


async def timed(client: httpx.AsyncClient, target: Target, body: bytes) -> tuple[float, float]:
    """Milliseconds to the first body byte and to the end of the response."""
    start = time.perf_counter()
    first: float | None = None
    async with client.stream("POST", target.url, content=body, headers=target.headers) as reply:
        async for _ in reply.aiter_raw():
            first = first or time.perf_counter()
        end = time.perf_counter()
    if reply.status_code != 200 or first is None:
        raise RuntimeError(f"{target.name}: HTTP {reply.status_code}")
    return (first - start) * 1000, (end - start) * 1000


async def latency(
    targets: list[Target], samples: int, max_tokens: int, warmup: int, trips: RoundTrips
) -> dict[tuple[str, str], Samples]:
    """One request at a time, the targets and modes interleaved (and a DynamoDB round trip
    sampled after each round), so that every side of each comparison sees the same machine."""
    results = {(t.name, mode): Samples() for t in targets for mode in MODES}
    bodies = {mode: chat_body(mode, max_tokens) for mode in MODES}
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(warmup + samples):
            for mode in MODES:
                for target in targets:
                    ttfb, total = await timed(client, target, bodies[mode])
                    if index >= warmup:
                        results[target.name, mode].ttfb.append(ttfb)
                        results[target.name, mode].total.append(total)
            if index >= warmup:
                # Not while the last request's after-response work (its settlement) still
                # occupies moto's server, which handles one request at a time.
                await asyncio.sleep(AFTER_RESPONSE_PAUSE)
                trips.sample()
    return results


async def health_round_trips(base_url: str, samples: int) -> list[float]:
    """Milliseconds of ``GET /healthz``: the HTTP hop into a proxy process and back."""
    times = []
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(10 + samples):
            start = time.perf_counter()
            (await client.get(f"{base_url}/healthz")).raise_for_status()
            if index >= 10:
                times.append((time.perf_counter() - start) * 1000)
    return times


class RoundTrips:
    """DynamoDB round trips from this process to moto's server: one ``UpdateItem`` (the unit
    of overhead), one two-item ``TransactWriteItems`` of the same plain shape, and, when
    given, ``admission``: the gateway's own admission write (its conditional expressions
    included) for a key like the benchmark's. Sampled between the latency requests, so all
    see the same moto."""

    def __init__(
        self, client: Any, table: str, admission: Callable[[], object] | None = None
    ) -> None:
        def update(sk: str) -> dict[str, Any]:
            return {
                "TableName": table,
                "Key": {"pk": {"S": "BENCH#rtt"}, "sk": {"S": sk}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }

        self.calls: dict[str, Callable[[], object]] = {
            "UpdateItem": lambda: client.update_item(**update("A")),
            "TransactWriteItems": lambda: client.transact_write_items(
                TransactItems=[{"Update": update("A")}, {"Update": update("B")}]
            ),
        }
        if admission is not None:
            self.calls["admission"] = admission
        self.times: dict[str, list[float]] = {name: [] for name in self.calls}

    def sample(self) -> None:
        for name, call in self.calls.items():
            start = time.perf_counter()
            call()
            self.times[name].append((time.perf_counter() - start) * 1000)


@dataclass
class CallCounts:
    requests: int
    seconds: float
    calls: Counter[str]  # all of them
    items_written: Counter[str]
    write_units: Counter[str]  # on-demand WRU, weighed by item (bench/stack.py write_units)
    before_first_byte: Counter[str]  # from sending the request to its first response byte
    # The proxy process's CPU (ms, all requests) from sending each request to its first
    # response byte, and from there to the end of its after-response pause.
    cpu_before_first_byte_ms: float = 0.0
    cpu_after_first_byte_ms: float = 0.0


# After each counted response, how long to wait for its after-response work (settlement,
# cache refresh) to reach the counter before the next request starts.
AFTER_RESPONSE_PAUSE = 0.1


async def count_calls(
    target: Target, counter: Any, requests: int, max_tokens: int, pid: int
) -> CallCounts:
    """AWS calls the gateway (process ``pid``) makes for ``requests`` sequential requests (half
    streamed) on a warm instance, split into those before the first response byte and all of
    them, and its CPU time split the same way (``/proc`` clock ticks, summed over the
    requests); the first requests (key, team and secret not yet cached) are not counted."""
    calls: Counter[str] = Counter()
    items: Counter[str] = Counter()
    units: Counter[str] = Counter()
    before: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=30) as client:
        for mode in MODES:
            await timed(client, target, chat_body(mode, max_tokens))
        await asyncio.sleep(AFTER_RESPONSE_PAUSE)
        counter.take()
        start = time.perf_counter()
        cpu_before = cpu_after = 0.0
        for index in range(requests):
            body = chat_body(MODES[index % 2], max_tokens)
            sent_cpu = cpu_seconds(pid)
            async with client.stream(
                "POST", target.url, content=body, headers=target.headers
            ) as reply:
                first = True
                async for _ in reply.aiter_raw():
                    if first:
                        first_byte_cpu = cpu_seconds(pid)
                        cpu_before += first_byte_cpu - sent_cpu
                        early, early_items, early_units = counter.take()
                        before.update(early)
                        calls.update(early)
                        items.update(early_items)
                        units.update(early_units)
                        first = False
            await asyncio.sleep(AFTER_RESPONSE_PAUSE)
            cpu_after += cpu_seconds(pid) - first_byte_cpu
            late, late_items, late_units = counter.take()
            calls.update(late)
            items.update(late_items)
            units.update(late_units)
        seconds = time.perf_counter() - start - requests * AFTER_RESPONSE_PAUSE
    await asyncio.sleep(AFTER_RESPONSE_PAUSE)
    units.update(counter.take()[2])  # the last request's writes, weighed after their response
    return CallCounts(
        requests, seconds, calls, items, units, before, cpu_before * 1000, cpu_after * 1000
    )


@dataclass
class Load:
    completed: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.completed / self.seconds


async def throughput(target: Target, concurrency: int, seconds: float, max_tokens: int) -> Load:
    """``concurrency`` clients sending non-streamed requests back to back for ``seconds``."""
    body = chat_body("json", max_tokens)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def client_loop(deadline: float) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                reply = await client.post(target.url, content=body, headers=target.headers)
                if reply.status_code == 200:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(client_loop(time.perf_counter() + 1) for _ in range(concurrency)))
        latencies.clear()
        errors = 0
        start = time.perf_counter()
        await asyncio.gather(
            *(client_loop(start + seconds) for _ in range(concurrency)), return_exceptions=False
        )
        elapsed = time.perf_counter() - start
    return Load(len(latencies), errors, elapsed, latencies)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def log_bytes(path: Path, offset: int) -> dict[str, int]:
    """Bytes a proxy wrote to stdout since ``offset``: ``emf``, the lines holding an EMF
    document (a request's one line: its metrics and its log fields, proxy/telemetry.py), and
    ``log``, every other line (warnings, errors)."""
    sizes = {"emf": 0, "log": 0}
    with path.open("rb") as stream:
        stream.seek(offset)
        for line in stream:
            sizes["emf" if b'"_aws"' in line else "log"] += len(line)
    return sizes


def logged_values(path: Path, offset: int, field: str) -> list[float]:
    """``field`` of each request line a proxy wrote to stdout since ``offset`` (the EMF
    document that carries the request's log fields)."""
    values = []
    with path.open("rb") as stream:
        stream.seek(offset)
        for line in stream:
            if b'"_aws"' not in line or f'"{field}"'.encode() not in line:
                continue
            value = json.loads(line).get(field)
            if isinstance(value, int | float):
                values.append(float(value))
    return values
