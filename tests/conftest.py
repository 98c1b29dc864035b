"""Shared fixtures: the local AWS endpoint (moto's server over real HTTP) and its resources.

moto's server is started once per test session, in a child process, by the same code that
``groq-gateway dev`` uses; each test that needs AWS gets a fresh state provisioned from
template.yaml.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from hypothesis import settings

from groq_gateway.store import GatewayStore
from groq_gateway_dev.devserver.local_aws import (
    LOCAL_AWS_ENV,
    create_table,
    free_port,
    moto_server,
    provision,
    spawn,
)
from groq_gateway_dev.devserver.template import TemplateModel
from tests.secret_scan import SCAN

# Property-based tests: a quick run by default; `make proof` (PROOF=1) tries many more inputs.
settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("proof", max_examples=2000, deadline=None)
settings.load_profile("proof" if os.environ.get("PROOF") == "1" else "default")

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
UPSTREAM_KEY = "gsk_test_upstream_key_0123456789"
ADMIN_KEY = "test-admin-key-0123456789abcdef"
STAGED_UPSTREAM_KEY = "gsk_test_staged_key_9876543210"
SCAN.known |= {UPSTREAM_KEY, ADMIN_KEY, STAGED_UPSTREAM_KEY}


@pytest.fixture(scope="session")
def template() -> TemplateModel:
    return TemplateModel.load(TEMPLATE)


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto's server; boto3 in this process reaches it through ``AWS_ENDPOINT_URL``."""
    saved = {k: os.environ.get(k) for k in [*LOCAL_AWS_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(LOCAL_AWS_ENV)
    with moto_server() as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        yield url
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def local_aws(aws_endpoint: str, template: TemplateModel) -> dict[str, str]:
    """A fresh copy of the template's tables and secrets: logical id -> local name or ARN."""
    httpx.post(f"{aws_endpoint}/moto-api/reset").raise_for_status()
    return provision(
        template,
        aws_endpoint,
        secret_values={
            "UpstreamKeySecret": {"active": UPSTREAM_KEY},
            "AdminKeySecret": {"admin_key": ADMIN_KEY},
        },
    )


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (anyio's pytest plugin, which Starlette already brings)."""
    return "asyncio"


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    """The Groq simulator as a separate process, for code that calls Groq with a sync client.
    It accepts ``UPSTREAM_KEY`` and ``STAGED_UPSTREAM_KEY``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = spawn(
        [
            sys.executable,
            "-m",
            "groq_gateway_dev.simulator",
            "--port",
            str(port),
            "--api-key",
            UPSTREAM_KEY,
            "--api-key",
            STAGED_UPSTREAM_KEY,
        ],
        url,
        "/_simulator/stats",
    )
    yield url
    child.stop()


DYNALITE = ROOT / "tests" / "dynalite" / "node_modules" / "dynalite" / "cli.js"


@pytest.fixture(scope="session")
def dynalite_endpoint() -> Iterator[str]:
    """dynalite (in memory) in a child process; `make test` installs it (tests/dynalite)."""
    if not DYNALITE.exists():
        pytest.fail("dynalite is not installed: run `npm ci --prefix tests/dynalite` (make does)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        "node",
        str(DYNALITE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # Tables become ACTIVE at once, as in moto, so no test waits on a waiter's 20 s poll.
        "--createTableMs",
        "0",
        "--deleteTableMs",
        "0",
        "--updateTableMs",
        "0",
    ]
    child = spawn(command, url, "/", env=LOCAL_AWS_ENV)
    yield url
    child.stop()


@dataclass
class DynamoDbUnderTest:
    backend: str  # "moto" or "dynalite"
    store: GatewayStore

    def needs_transactions(self) -> None:
        if self.backend == "dynalite":
            pytest.skip("dynalite does not implement TransactWriteItems")


_tables = itertools.count()


@pytest.fixture(params=["moto", "dynalite"])
def each_dynamodb(
    request: pytest.FixtureRequest, template: TemplateModel, aws_endpoint: str
) -> Iterator[DynamoDbUnderTest]:
    """A fresh gateway table, as template.yaml defines it, on moto's server and on dynalite
    (which validates requests more strictly and has no TTL settings)."""
    backend = request.param
    endpoint = aws_endpoint if backend == "moto" else request.getfixturevalue("dynalite_endpoint")
    [props] = template.tables().values()
    name = f"each-{backend}-{next(_tables)}"
    create_table(endpoint, name, props, ttl=backend == "moto")
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    yield DynamoDbUnderTest(backend, GatewayStore(name, client))
    client.delete_table(TableName=name)
