"""A real ``groq-gateway dev --simulate`` process, started as the README tells a user to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from groq_gateway.devserver.local_aws import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"


@dataclass
class DevGateway:
    base_url: str
    admin_key: str
    process: subprocess.Popen[str]


def groq_gateway_command() -> list[str]:
    script = Path(sys.executable).with_name("groq-gateway")
    return [str(script)] if script.exists() else [sys.executable, "-m", "groq_gateway.cli.main"]


@pytest.fixture(scope="session")
def dev_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevGateway]:
    port = free_port()
    log = tmp_path_factory.mktemp("dev") / "gateway.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                *groq_gateway_command(),
                "dev",
                "--simulate",
                "--port",
                str(port),
                "--admin-key",
                ADMIN_KEY,
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base_url}/healthz", timeout=60, process=process)
            yield DevGateway(base_url, ADMIN_KEY, process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
