"""Cold start and size: import times in fresh processes, process start to the first served
request, what the proxy imports beyond boto3 and httpx, and the zipped build artefacts."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.measure import Target, timed
from bench.stack import BLOCK_ABSENT, PROXY_DIR, ROOT, Gateway, start_gateway

BASE_IMPORT = "import boto3, httpx"
IMPORTS = {
    "base": BASE_IMPORT,
    # the proxy's code, nothing run
    "code": "import groq_gateway.proxy.app",
    # functions/proxy/app.py: the code plus create_app() (settings, prices, DynamoDB and
    # upstream clients): all Lambda's init runs before uvicorn can serve
    "init": "import app",
    # the yardstick and the pydantic models the proxy's code imports (its records, settings and
    # price book), pydantic with them: what a proxy without pydantic would not import
    "pydantic": (
        f"{BASE_IMPORT}, groq_gateway.core.records, groq_gateway.core.settings, "
        "groq_gateway.core.pricing"
    ),
}


def import_medians(
    statements: dict[str, str],
    env: dict[str, str],
    *,
    lambda_packages: bool,
    repeat: int,
    python: str = sys.executable,
) -> dict[str, float]:
    """Median milliseconds of each statement in fresh interpreters (interpreter start-up not
    included), with or without the packages Lambda does not have. The statements take turns,
    round after round, so that a drift of the machine's speed during the run moves them all
    alike and their ratios stay comparable."""
    runs: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(repeat):
        for name, statement in statements.items():
            timer = (
                "import time\n_start = time.perf_counter()\n"
                f"{statement}\n"
                "print((time.perf_counter() - _start) * 1000)\n"
            )
            code = (BLOCK_ABSENT if lambda_packages else "") + timer
            output = _python(["-c", code], env, python=python)
            runs[name].append(float(output.strip().splitlines()[-1]))
    return {name: statistics.median(times) for name, times in runs.items()}


def compile_sources() -> None:
    """Current bytecode for the gateway's own code in the source tree, as the layer ships it.
    Without it every fresh interpreter would compile each module changed since its bytecode
    was last written (none is written where PYTHONDONTWRITEBYTECODE is set): the import
    timings would measure compiling."""
    _run(
        [
            *(sys.executable, "-m", "compileall", "-q"),
            *(str(ROOT / "layers" / "gateway" / "groq_gateway"), str(PROXY_DIR)),
        ]
    )


def import_breakdown(env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """What ``import groq_gateway.proxy.app`` adds to ``import boto3, httpx``, by top-level
    package (``python -X importtime`` self times, Lambda's package set), largest first."""
    code = (
        f"{BLOCK_ABSENT}{BASE_IMPORT}\nprint('--base done--', file=sys.stderr)\n{IMPORTS['code']}"
    )
    lines = _python(["-X", "importtime", "-c", code], env, stderr=True).splitlines()
    after_base = lines[lines.index("--base done--") + 1 :]
    totals: Counter[str] = Counter()
    for line in after_base:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        parts = name.strip().split(".")
        package = ".".join(parts[:2]) if parts[0] == "groq_gateway" else parts[0]
        totals[package] += int(self_us)
    rest = sum(totals.values()) - sum(us for _, us in totals.most_common(top))
    rows = [(package, us / 1000) for package, us in totals.most_common(top)]
    return [*rows, ("everything else", rest / 1000)]


def layer_imports(env: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    """The imports of :data:`IMPORTS` in Lambda's Python (python3.13) from GatewayLayer as
    layers/gateway/Makefile builds it, for this machine's platform (Lambda's arm64 wheels do
    not load here), with boto3 beside it as the runtime provides it (``make lambda-site``):
    ``"bytecode"``, the layer as built; ``"source"``, the same files without any bytecode, as
    SAM's python builder shipped the layer. Medians of ``repeat`` each."""
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as tmp:
        site = Path(tmp) / "site"
        python = lambda_site(site)
        built, runtime, source = site / "python", site / "runtime", Path(tmp) / "source"
        shutil.copytree(built, source, ignore=shutil.ignore_patterns("__pycache__"))
        return {
            label: import_medians(
                IMPORTS,
                # no bytecode written either: each run of "source" compiles, as in Lambda
                {**env, "PYTHONPATH": f"{path}:{runtime}", "PYTHONDONTWRITEBYTECODE": "1"},
                lambda_packages=True,
                repeat=repeat,
                python=python,
            )
            for label, path in (("bytecode", built), ("source", source))
        }


def lambda_site(directory: Path) -> str:
    """``make lambda-site`` into ``directory``: in python/ the layer built for this machine,
    in runtime/ boto3 as Lambda's runtime provides it. Returns the python3.13 to run them."""
    made = _run(["make", "--no-print-directory", "-s", "lambda-site", f"ARTIFACTS_DIR={directory}"])
    return made.strip().splitlines()[-1]


def _run(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """``command``'s stdout; :class:`RuntimeError` with the end of its output if it fails."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = result.stdout[-2000:] + result.stderr[-2000:]
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{output}")
    return result.stdout


@dataclass(frozen=True)
class ColdStart:
    ready_ms: float  # process start to /healthz 200 (the adapter's readiness check)
    first_ms: float  # process start to the end of the first proxied response
    first_request_ms: float  # the first proxied request alone
    second_request_ms: float  # the next one, warm


def cold_start(env: dict[str, str], key: str, body: bytes, workdir: Path) -> ColdStart:
    """One fresh proxy process, as Lambda starts one: ready, then two requests."""
    gateway: Gateway = start_gateway(env, workdir / "coldstart.log")
    try:
        ready = gateway.wait_ready()
        target = Target("gateway", gateway.url, key)
        first, second = asyncio.run(_two_requests(target, body))
        return ColdStart(ready, ready + first, first, second)
    finally:
        gateway.stop()


async def _two_requests(target: Target, body: bytes) -> tuple[float, float]:
    async with httpx.AsyncClient(timeout=30) as client:
        first = (await timed(client, target, body))[1]
        second = (await timed(client, target, body))[1]
    return first, second


def artefact_sizes() -> dict[str, tuple[int, int]]:
    """``sam build`` into a temporary directory; each artefact's (zipped, unzipped) bytes."""
    sam = Path(sys.executable).with_name("sam")
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as tmp:
        build = Path(tmp) / "build"
        _run(
            [
                str(sam),
                "build",
                "--template",
                str(ROOT / "template.yaml"),
                "--build-dir",
                str(build),
            ],
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        )
        return {d.name: _zipped(d) for d in sorted(build.iterdir()) if d.is_dir()}


def _zipped(directory: Path) -> tuple[int, int]:
    """Bytes of ``directory`` zipped (deflate, as sam deploy packages it) and unzipped."""
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory))
                unzipped += path.stat().st_size
    return len(buffer.getvalue()), unzipped


def _python(
    args: list[str], env: dict[str, str], *, stderr: bool = False, python: str = sys.executable
) -> str:
    result = subprocess.run(
        [python, *args], cwd=PROXY_DIR, env=env, capture_output=True, text=True, check=True
    )
    return result.stderr if stderr else result.stdout
