"""The processes a benchmark run starts, all on loopback: moto's server, the Groq simulator,
proxy processes under uvicorn (started as functions/proxy/run.sh starts them in Lambda) and a
counting pass-through in front of moto's server."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import httpx

from groq_gateway.core.key_format import GATEWAY_KEY_PREFIX, mint_key
from groq_gateway.core.periods import utcnow
from groq_gateway.core.records import GatewayKey, SecretVersion, Team
from groq_gateway.store import GatewayStore
from groq_gateway_dev.devserver.local_aws import (
    LOCAL_AWS_ENV,
    LOCAL_REGION,
    ChildProcess,
    free_port,
    function_environment,
    provision,
    spawn,
)
from groq_gateway_dev.devserver.template import TemplateModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
PROXY_DIR = ROOT / "functions" / "proxy"
HOST = "127.0.0.1"

# Installed in this dev environment, absent in Lambda (neither the python3.13 runtime nor the
# layer `sam build` makes has them): optional imports of botocore (awscrt, pyOpenSSL) and of
# httpx's command line (rich, pygments). Every proxy process the benchmark starts, and every
# import it times, runs with them unimportable, so Python takes Lambda's import paths.
ABSENT_IN_LAMBDA = ("awscrt", "OpenSSL", "cryptography", "rich", "pygments")
BLOCK_ABSENT = f"import sys\nfor _name in {ABSENT_IN_LAMBDA!r}:\n    sys.modules[_name] = None\n"

# uvicorn as functions/proxy/run.sh runs it; argv[1:] are uvicorn's arguments.
_LAUNCHER = BLOCK_ABSENT + (
    "import runpy\n"
    "sys.argv = ['uvicorn', *sys.argv[1:]]\n"
    "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)\n"
)


@dataclass
class Gateway:
    """One proxy process: uvicorn serving functions/proxy/app.py."""

    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    spawned_at: float  # perf_counter() just before the process was created

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Poll ``/healthz`` (as the Lambda Web Adapter's readiness check does) until it
        answers 200; the milliseconds from spawning the process."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"proxy exited with {self.process.returncode}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return (time.perf_counter() - self.spawned_at) * 1000
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
        raise TimeoutError(f"{self.url} not ready within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_sh_options(run_sh: Path = PROXY_DIR / "run.sh") -> list[str]:
    """uvicorn's options in run.sh's ``exec python3 -m uvicorn ...`` line, less the address
    (``--host``, ``--port``) and the app: what every proxy process here runs with."""
    for line in run_sh.read_text().splitlines():
        words = shlex.split(line) if line.startswith("exec ") else []
        if words[:4] == ["exec", "python3", "-m", "uvicorn"]:
            options, rest = [], iter(words[4:-1])
            for word in rest:
                if word in ("--host", "--port"):
                    next(rest)
                else:
                    options.append(word)
            return options
    raise ValueError(f"no uvicorn command in {run_sh}")


def start_gateway(env: dict[str, str], stdout: Path) -> Gateway:
    """Spawn a proxy process with ``env``; its stdout (logs and EMF metrics) goes to ``stdout``."""
    port = free_port(HOST)
    args = ["--host", HOST, "--port", str(port), *run_sh_options()]
    with stdout.open("ab") as out, stdout.with_suffix(".err").open("ab") as err:
        spawned_at = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, *args, "app:app"],
            cwd=PROXY_DIR,
            env=env,
            stdout=out,
            stderr=err,
        )
    return Gateway(process, f"http://{HOST}:{port}", stdout, spawned_at)


def attribute_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (docs: "Item sizes and formats"): a string or
    binary its bytes, a number about one byte per two significant digits plus one, a map or
    list 3 bytes plus its elements (and each element's name) plus one byte per element."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(str(inner))
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in inner)
    return 1  # BOOL, NULL


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(item: dict[str, Any] | None, *, transactional: bool) -> float:
    """What one write of ``item`` (as it is after the write) costs on demand: 1 WRU per KB
    started (2 in a transaction), and 1 more for its copy in the table's index (gsi1, which
    projects every attribute) when it carries the index's keys."""
    size = item_size(item or {})
    units = max(1, -(-size // 1024)) * (2 if transactional else 1)
    if item and "gsi1pk" in item and "gsi1sk" in item:
        units += 1
    return float(units)


class CountingProxy:
    """An HTTP pass-through to moto's server that counts AWS API calls by operation
    (``dynamodb:UpdateItem``, ``secretsmanager:GetSecretValue``, ...), the items each
    DynamoDB write touches and the write units each costs (:func:`write_units`, weighed by
    reading the item back from moto after the response has gone back, uncounted). Point a
    proxy process's ``AWS_ENDPOINT_URL`` at ``url``."""

    def __init__(self, target: str) -> None:
        self.calls: Counter[str] = Counter()
        self.items_written: Counter[str] = Counter()
        self.write_units: Counter[str] = Counter()
        self._lock = threading.Lock()
        upstream = urlsplit(target)
        self._upstream = upstream
        counter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                counter.count(self.headers.get("x-amz-target", ""), body)
                connection = HTTPConnection(upstream.hostname or HOST, upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body, headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                counter.weigh(self.headers.get("x-amz-target", ""), body, headers)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def count(self, target: str, body: bytes) -> None:
        service, _, operation = target.partition(".")
        name = f"{'dynamodb' if service.startswith('DynamoDB') else service}:{operation}"
        with self._lock:
            self.calls[name] += 1
            if operation == "TransactWriteItems":
                self.items_written[name] += len(json.loads(body).get("TransactItems", []))
            elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
                self.items_written[name] += 1

    def weigh(self, target: str, body: bytes, headers: dict[str, str]) -> None:
        """The write units of a DynamoDB write, from the items as they are after it."""
        service, _, operation = target.partition(".")
        if not service.startswith("DynamoDB"):
            return
        request = json.loads(body or b"{}")
        if operation == "TransactWriteItems":
            keys = []
            for entry in request.get("TransactItems", []):
                (kind, action), *_ = entry.items()
                if kind != "ConditionCheck":
                    keys.append((action["TableName"], action.get("Key") or _key_of(action)))
            transactional = True
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            keys = [(request["TableName"], request.get("Key") or _key_of(request))]
            transactional = False
        else:
            return
        units = 0.0
        for table, key in keys:
            units += write_units(self._read(table, key, headers), transactional=transactional)
        with self._lock:
            self.write_units[f"dynamodb:{operation}"] += units

    def _read(
        self, table: str, key: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any] | None:
        connection = HTTPConnection(
            self._upstream.hostname or HOST, self._upstream.port, timeout=30
        )
        request = {"TableName": table, "Key": key, "ConsistentRead": True}
        sent = {k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date")}
        sent |= {
            "x-amz-target": "DynamoDB_20120810.GetItem",
            "content-type": "application/x-amz-json-1.0",
        }
        connection.request("POST", "/", json.dumps(request).encode(), sent)
        response = json.loads(connection.getresponse().read() or b"{}")
        connection.close()
        item: dict[str, Any] | None = response.get("Item")
        return item

    def take(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        """The counts since the last call (and start again from zero): calls, items written,
        write units."""
        with self._lock:
            taken = (self.calls.copy(), self.items_written.copy(), self.write_units.copy())
            self.calls.clear()
            self.items_written.clear()
            self.write_units.clear()
        return taken

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _key_of(action: dict[str, Any]) -> dict[str, Any]:
    """A ``Put``'s key: its item's ``pk`` and ``sk``."""
    item = action.get("Item", {})
    return {name: item[name] for name in ("pk", "sk") if name in item}


_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "server", "date"})


@dataclass
class LocalStack:
    """moto's server and the simulator, provisioned from template.yaml, with bench keys."""

    moto: ChildProcess
    simulator: ChildProcess
    upstream_key: str
    proxy_env: dict[str, str]  # the proxy's environment, as `groq-gateway dev` builds it
    table_name: str
    keys: dict[str, str]  # "plain" / "team": a gateway key
    template: TemplateModel

    def env_with(self, **changes: str) -> dict[str, str]:
        return {**self.proxy_env, **changes}

    def dynamodb(self) -> DynamoDBClient:
        return dynamodb_client(self.moto.url)


def dynamodb_client(endpoint: str) -> DynamoDBClient:
    """A DynamoDB client of this process, for moto's server."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@contextmanager
def local_stack(latency_ms: float, chunk_interval_ms: float) -> Iterator[LocalStack]:
    template = TemplateModel.load(TEMPLATE)
    with ExitStack() as stack:
        moto_url = f"http://{HOST}:{free_port(HOST)}"
        moto = spawn(  # as local_aws.moto_server starts it (which hides the process)
            [
                *(sys.executable, "-m", "groq_gateway_dev.devserver.moto_server"),
                *("--host", HOST, "--port", moto_url.rsplit(":", 1)[1]),
            ],
            moto_url,
            "/moto-api/",
            env=LOCAL_AWS_ENV,
        )
        stack.callback(moto.stop)
        upstream_key = f"gsk_bench_{secrets.token_hex(16)}"
        simulator_url = f"http://{HOST}:{free_port(HOST)}"
        simulator = spawn(
            [
                *(sys.executable, "-m", "groq_gateway_dev.simulator", "--host", HOST),
                *("--port", simulator_url.rsplit(":", 1)[1], "--api-key", upstream_key),
                *("--latency-ms", str(latency_ms), "--chunk-interval-ms", str(chunk_interval_ms)),
                *("--requests-per-day", "1000000000", "--tokens-per-minute", "1000000000"),
            ],
            simulator_url,
            "/_simulator/stats",
        )
        stack.callback(simulator.stop)
        physical = provision(
            template, moto_url, secret_values={"UpstreamKeySecret": {"active": upstream_key}}
        )
        env = {
            **os.environ,
            **LOCAL_AWS_ENV,
            **function_environment(template, physical),
            "AWS_ENDPOINT_URL": moto_url,
            "UPSTREAM_BASE_URL": simulator_url,
            "PYTHONUNBUFFERED": "1",  # every log line reaches the file as it is written
        }
        table = physical["GatewayTable"]
        keys = create_keys(GatewayStore(table, client=dynamodb_client(moto_url)))
        yield LocalStack(moto, simulator, upstream_key, env, table, keys, template)


def create_keys(store: GatewayStore) -> dict[str, str]:
    """Two keys, as an admin would create them: ``plain`` with per-minute limits (admission
    counts the key's minute window; the organisation's share is held on the instance's
    budget lease), ``team`` also in a team, both with limits and monthly budgets (four
    counters in admission)."""
    now = utcnow()
    unlimited = {"requests_per_minute": 1_000_000, "tokens_per_minute": 1_000_000_000}
    store.teams.create(
        Team.model_validate(
            {"team_id": "bench", "monthly_budget_usd": 1000, "created_at": now, "updated_at": now}
            | unlimited
        )
    )
    keys = {}
    for kind, extra in (("plain", {}), ("team", {"team_id": "bench", "monthly_budget_usd": 1000})):
        minted = mint_key(GATEWAY_KEY_PREFIX)
        secret = SecretVersion(
            secret_hash=minted.secret_hash, display_prefix=minted.display_prefix, created_at=now
        )
        store.keys.create(
            GatewayKey.model_validate(
                {
                    "key_id": minted.key_id,
                    "name": f"bench-{kind}",
                    "created_at": now,
                    "updated_at": now,
                    "secrets": [secret],
                    **unlimited,
                    **extra,
                }
            )
        )
        keys[kind] = minted.plaintext
    return keys
