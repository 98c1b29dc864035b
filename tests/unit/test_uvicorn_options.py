"""The proxy and the admin API run under uvicorn with uvloop and httptools in Lambda (run.sh),
under `groq-gateway dev` and in the benchmark's proxy processes alike (issue #17: about a tenth
of the proxy's CPU per request, docs/performance.md)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from bench.stack import run_sh_options

from groq_gateway_dev.cli import dev

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--loop", "uvloop", "--http", "httptools"]


@pytest.mark.parametrize("function", ["proxy", "admin"])
def test_run_sh_names_uvloop_and_httptools(function: str) -> None:
    run_sh = ROOT / "functions" / function / "run.sh"
    (command,) = [line for line in run_sh.read_text().splitlines() if line.startswith("exec ")]
    words = shlex.split(command)
    assert words[:4] == ["exec", "python3", "-m", "uvicorn"]
    assert all(" ".join(FAST[i : i + 2]) in " ".join(words) for i in (0, 2))
    assert run_sh_options(run_sh)[:4] == FAST


def test_the_benchmark_starts_proxies_as_run_sh_does() -> None:
    assert run_sh_options() == [*FAST, "--no-access-log", "--log-level", "warning"]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_the_dev_server_uses_the_same_loop_and_parser() -> None:
    config = dev._config(lambda *_: None, "127.0.0.1", 0)  # type: ignore[arg-type,return-value]
    assert (config.loop, config.http) == ("uvloop", "httptools")
    assert config.get_loop_factory() is not None
