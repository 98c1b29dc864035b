"""``python -m bench.profile``: where the proxy's CPU per request goes, sampled with py-spy.

Starts moto's server, the simulator and a proxy process exactly as ``make bench`` does
(``bench.stack``), warms the proxy up, then attaches ``py-spy record`` (non-blocking, only
threads holding the GIL, so the samples approximate CPU) while the bench's sequential load runs
against it: chat completions, non-streamed and streamed taking turns, a pause after each
pair as ``measure.latency`` makes, so the after-response work is in the window. Once for a
key without a team (``plain``) and once for a key in a team (``team``), each in a fresh proxy.

Prints, per key, the proxy's CPU per request (``/proc`` over the same window, with and without
the sampler attached) and the top entries: self time by group (the innermost frame's library,
botocore split by module, the standard library by module), cumulative time by group and by
function. docs/performance.md quotes a
run. py-spy is not a project dependency: ``.venv/bin/pip install py-spy`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench import measure
from bench.measure import MODES, Target
from bench.stack import LocalStack, local_stack, start_gateway

WARMUP = 20  # requests per mode before the sampler attaches
_SITE = Path(sysconfig.get_paths()["purelib"])
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

# Libraries (by the first directory under site-packages, or our package's sub-packages) and
# the group each belongs to; botocore is split by module, the rest go by package name.
_BOTOCORE_GROUPS = {
    "auth.py": "botocore: signing",
    "signers.py": "botocore: signing",
    "serialize.py": "botocore: serialising",
    "parsers.py": "botocore: parsing",
    "validate.py": "botocore: parameter validation",
    "httpsession.py": "botocore: HTTP (urllib3)",
    "endpoint.py": "botocore: endpoint, retries",
    "hooks.py": "botocore: events",
}
_PACKAGE_GROUPS = {
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "httpx": "httpx / httpcore",
    "httpcore": "httpx / httpcore",
    "h11": "uvicorn / h11",
    "uvicorn": "uvicorn / h11",
    "starlette": "Starlette",
    "fastapi": "Starlette",
    "anyio": "anyio (threads, streams)",
    "urllib3": "botocore: HTTP (urllib3)",
    "aws_lambda_powertools": "Powertools",
    "boto3": "boto3",
    "dateutil": "botocore: parsing",
}


def group_of(path: str) -> str | None:
    """The group a frame's file (as py-spy names it: relative to its ``sys.path`` entry)
    belongs to, or None for the standard library."""
    top, _, rest = path.partition("/")
    if top == "groq_gateway":
        return "ours: " + rest.removesuffix(".py").replace("/", ".")
    if top == "botocore":
        return _BOTOCORE_GROUPS.get(Path(rest).name, "botocore: other")
    if top in _PACKAGE_GROUPS:
        return _PACKAGE_GROUPS[top]
    if rest and (_SITE / top).is_dir():
        return top
    return None


def stdlib_group(path: str) -> str:
    top = path.partition("/")[0].removesuffix(".py").removeprefix("<frozen ").rstrip(">")
    return f"stdlib: {top}"


def group(path: str) -> str:
    return group_of(path) or stdlib_group(path)


def parse(raw: Path) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """From py-spy's raw output (one ``frame;frame;... count`` line per distinct stack, the
    root first): the samples, self time by group (the innermost frame's), cumulative time by
    group (samples with any frame in it) and cumulative time by function."""
    total, self_groups, groups, functions = 0, Counter[str](), Counter[str](), Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = [m for m in map(_FRAME.match, stack.split(";")) if m]
        if not frames:
            continue
        count = int(count_text)
        total += count
        self_groups[group(frames[-1]["file"])] += count
        for name in {group(m["file"]) for m in frames}:
            groups[name] += count
        for name in {f"{m['function']} ({m['file']})" for m in frames}:
            functions[name] += count
    return total, self_groups, groups, functions


async def load(target: Target, rounds: int, max_tokens: int) -> int:
    """The bench's sequential load (``measure.latency`` without the direct target)."""
    bodies = {mode: measure.chat_body(mode, max_tokens) for mode in MODES}
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(rounds):
            for mode in MODES:
                await measure.timed(client, target, bodies[mode])
            await asyncio.sleep(measure.AFTER_RESPONSE_PAUSE)
    return rounds * len(MODES)


def profile_key(
    local: LocalStack, kind: str, args: argparse.Namespace, tmp: Path
) -> tuple[float, float, Path]:
    """CPU ms per request without and with the sampler, and py-spy's raw output."""
    gateway = start_gateway(local.proxy_env, tmp / f"{kind}.log")
    target = Target("gateway", gateway.url, local.keys[kind])
    try:
        gateway.wait_ready()
        asyncio.run(load(target, WARMUP, args.max_tokens))
        before = measure.cpu_seconds(gateway.pid)
        requests = asyncio.run(load(target, args.rounds, args.max_tokens))
        plain_ms = (measure.cpu_seconds(gateway.pid) - before) * 1000 / requests
        raw = tmp / f"{kind}.raw"
        spy = subprocess.Popen(
            [
                *(args.py_spy, "record", "--pid", str(gateway.pid), "--rate", str(args.rate)),
                *("--nonblocking", "--gil", "--function", "--format", "raw", "--output", str(raw)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # py-spy attaches
        before = measure.cpu_seconds(gateway.pid)
        requests = asyncio.run(load(target, args.rounds, args.max_tokens))
        sampled_ms = (measure.cpu_seconds(gateway.pid) - before) * 1000 / requests
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
        if not raw.exists():
            raise RuntimeError(f"py-spy wrote nothing: {err.decode()}")
        return plain_ms, sampled_ms, raw
    finally:
        gateway.stop()


def report(kind: str, plain_ms: float, sampled_ms: float, raw: Path, top: int) -> list[str]:
    total, self_groups, groups, functions = parse(raw)

    def rows(counts: Counter[str], quote: str = "") -> list[str]:
        return [f"| {quote}{n}{quote} | {c / total:.1%} |" for n, c in counts.most_common(top)]

    return [
        f"## key `{kind}`: {plain_ms:.1f} ms CPU per request "
        f"({sampled_ms:.1f} with py-spy attached), {total} samples holding the GIL",
        "",
        "| self time (innermost frame), by group | share |",
        "|---|---:|",
        *rows(self_groups),
        "",
        "| cumulative time, by group | share |",
        "|---|---:|",
        *rows(groups),
        "",
        "| cumulative time, by function | share |",
        "|---|---:|",
        *rows(functions, "`"),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=200, help="pairs (json, stream) per key")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--top", type=int, default=30, help="rows per table")
    parser.add_argument("--keep", type=Path, help="copy py-spy's raw stacks into this directory")
    default_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    parser.add_argument("--py-spy", default=default_spy)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name, local_stack(50, 2) as local:
        tmp = Path(tmp_name)
        lines = [f"load average at the start: {', '.join(map(str, os.getloadavg()))}", ""]
        for kind in ("plain", "team"):
            plain_ms, sampled_ms, raw = profile_key(local, kind, args, tmp)
            lines += report(kind, plain_ms, sampled_ms, raw, args.top)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(raw, args.keep / raw.name)
        lines.append(f"load average at the end: {', '.join(map(str, os.getloadavg()))}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
