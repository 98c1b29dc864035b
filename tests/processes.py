"""Child processes the tests start and stop themselves, their output kept in a log file that
is scanned for key material when they stop: ``groq-gateway dev`` (tests/e2e) and proxy
processes under uvicorn, started as functions/proxy/run.sh starts them in Lambda
(tests/integration/test_counter_item_concurrency.py).

Example::

    with logged_process([*command], tmp_path / "dev.log", env=env, scan_after=BANNER) as process:
        ...
    with proxy_processes(3, env, tmp_path) as urls:
        ...  # three proxy processes on one table, one URL each
"""

from __future__ import annotations

import signal
import subprocess
import sys
import weakref
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from groq_gateway_dev.devserver.local_aws import free_port, wait_until_up
from tests.secret_scan import SCAN

ROOT = Path(__file__).resolve().parents[1]
PROXY_DIR = ROOT / "functions" / "proxy"
HOST = "127.0.0.1"


@contextmanager
def logged_process(
    args: list[str],
    log: Path,
    *,
    env: Mapping[str, str],
    cwd: Path = ROOT,
    scan_after: str | None = None,
    stop_timeout: float = 20.0,
) -> Iterator[subprocess.Popen[str]]:
    """``args`` as a child process, its stdout and stderr in ``log``; stopped with Ctrl-C
    (SIGINT) at the end (killed if it has not exited within ``stop_timeout``), then its log
    scanned for key material: all of it, or only what follows ``scan_after`` (a banner that
    shows a key on purpose; nothing is scanned if it never appeared)."""
    with log.open("w") as output:
        process = subprocess.Popen(
            args, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, text=True, env=dict(env)
        )
        try:
            yield process
        finally:
            stop(process, stop_timeout)
            text = log.read_text()
            if scan_after is not None:
                text = text.partition(scan_after)[2]
            SCAN.scan(f"{log.name} (log of {Path(args[0]).name} {' '.join(args[1:3])})", text)


def interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C (SIGINT), once: a second one makes uvicorn (and `groq-gateway dev`) quit at
    once instead of shutting down gracefully."""
    if process.poll() is None and process not in _interrupted:
        _interrupted.add(process)
        process.send_signal(signal.SIGINT)


_interrupted: weakref.WeakSet[subprocess.Popen[str]] = weakref.WeakSet()


def stop(process: subprocess.Popen[str], timeout: float = 20.0) -> None:
    """Ctrl-C (SIGINT), as a user stops a server; killed after ``timeout`` seconds."""
    interrupt(process)
    if process.poll() is None:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def proxy_command(port: int) -> list[str]:
    """uvicorn serving functions/proxy/app.py, with run.sh's options (run in PROXY_DIR)."""
    return [
        *(sys.executable, "-m", "uvicorn", "--host", HOST, "--port", str(port)),
        *("--no-access-log", "--log-level", "warning", "app:app"),
    ]


@contextmanager
def proxy_processes(count: int, env: Mapping[str, str], logs: Path) -> Iterator[list[str]]:
    """``count`` proxy processes with the environment ``env`` (the proxy's settings, AWS
    endpoint and credentials), started together; yields their base URLs once each answers
    ``/healthz``. Their logs are ``logs/proxy-<n>.log``; all are stopped together at the end
    (SIGINT: uvicorn lets requests in flight, and their after-response work, finish)."""
    with ExitStack() as stack:
        started: list[tuple[subprocess.Popen[str], str]] = []
        for number in range(count):
            port = free_port(HOST)
            log = logs / f"proxy-{number}.log"
            process = stack.enter_context(
                logged_process(proxy_command(port), log, env=env, cwd=PROXY_DIR)
            )
            started.append((process, f"http://{HOST}:{port}"))

        def interrupt_all() -> None:  # every process gets its SIGINT before any is waited for
            for process, _ in started:
                interrupt(process)

        stack.callback(interrupt_all)
        for process, url in started:
            wait_until_up(f"{url}/healthz", timeout=60, process=process)
        yield [url for _, url in started]
