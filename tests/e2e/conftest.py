"""A real ``groq-gateway dev --simulate`` process, started as the README tells a user to."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from groq_gateway.store import GatewayStore
from groq_gateway_dev.devserver.local_aws import (
    LOCAL_AWS_ENV,
    LOCAL_STACK_NAME,
    free_port,
    wait_until_up,
)
from tests.processes import logged_process
from tests.secret_scan import SCAN

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
SCAN.known.add(ADMIN_KEY)
BANNER_END = "with that key."
# The simulator streams one chunk per word this far apart, so streaming can be observed.
CHUNK_INTERVAL_MS = 20


@dataclass
class DevGateway:
    base_url: str
    admin_key: str
    process: subprocess.Popen[str]
    simulator_url: str
    aws_endpoint: str

    def store(self) -> GatewayStore:
        """The gateway's store, read directly from its local AWS endpoint."""
        client = boto3.client(
            "dynamodb",
            endpoint_url=self.aws_endpoint,
            region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        return GatewayStore(f"{LOCAL_STACK_NAME}-GatewayTable", client)


def groq_gateway_command() -> list[str]:
    script = Path(sys.executable).with_name("groq-gateway")
    return [str(script)] if script.exists() else [sys.executable, "-m", "groq_gateway_dev.cli.main"]


@contextmanager
def running_dev(args: list[str], log: Path) -> Iterator[subprocess.Popen[str]]:
    """``groq-gateway dev --simulate`` with ``args``, its output in ``log``; stopped with
    Ctrl-C (SIGINT) at the end, and its log scanned for key material."""
    with logged_process(
        [*groq_gateway_command(), "dev", "--simulate", "--admin-key", ADMIN_KEY, *args],
        log,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        # Everything after the banner (which shows the admin key on purpose) is log output.
        scan_after=BANNER_END,
    ) as process:
        yield process


@pytest.fixture(scope="session")
def dev_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevGateway]:
    port = free_port()
    log = tmp_path_factory.mktemp("dev") / "gateway.log"
    interval = ["--simulator-chunk-interval-ms", str(CHUNK_INTERVAL_MS)]
    with running_dev(["--port", str(port), *interval], log) as process:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base_url}/healthz", timeout=60, process=process)
        banner = log.read_text()
        simulator = re.search(r"simulator at (http://\S+?);", banner)
        aws = re.search(r"local AWS: (http://\S+?)\)", banner)
        assert simulator, banner
        assert aws, banner
        yield DevGateway(base_url, ADMIN_KEY, process, simulator.group(1), aws.group(1))
