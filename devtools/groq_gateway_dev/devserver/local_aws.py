"""The local AWS endpoint: moto's server in a child process, provisioned from template.yaml.

Example::

    with MotoServer.start() as moto:
        names = provision(TemplateModel.load(path), moto.endpoint)
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx

from groq_gateway_dev.devserver.template import FunctionSpec, TemplateModel

LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"
LOCAL_STACK_NAME = "groq-gateway-local"
# Who the local credentials are, as API Gateway's IAM check would name them (devserver.iam).
LOCAL_USER_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:user/local"

# Credentials moto accepts; exported to every local process so boto3 never looks further.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(
    url: str, timeout: float = 30.0, process: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up within {timeout} s")


@dataclass
class ChildProcess:
    """A started child process that is stopped, with its children, on ``stop()``."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(
    args: list[str], url: str, health_path: str, env: Mapping[str, str] | None = None
) -> ChildProcess:
    process = subprocess.Popen(  # noqa: S603 - args built here from sys.executable and ints
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = ChildProcess(process, url)
    try:
        wait_until_up(url + health_path, process=process)
    except BaseException:
        child.stop()
        raise
    return child


@contextmanager
def moto_server(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """moto's server on ``host:port``; yields its endpoint URL."""
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    child = spawn(
        [
            sys.executable,
            "-m",
            "groq_gateway_dev.devserver.moto_server",
            "--host",
            host,
            "--port",
            str(port),
        ],
        url,
        "/moto-api/",
        env=LOCAL_AWS_ENV,
    )
    try:
        yield url
    finally:
        child.stop()


def _client(service: Any, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def create_table(endpoint: str, name: str, props: dict[str, Any], *, ttl: bool = True) -> None:
    """Create one table as the template defines it (keys, indexes and, unless ``ttl`` is
    false for an emulator without it, TTL)."""
    dynamodb = _client("dynamodb", endpoint)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    indexes = [
        {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
        for index in props.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    dynamodb.create_table(**kwargs)
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    expiry = props.get("TimeToLiveSpecification")
    if ttl and expiry and expiry.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": expiry["AttributeName"], "Enabled": True},
        )


def provision(
    template: TemplateModel,
    endpoint: str,
    secret_values: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """Create the template's tables, secrets and topics; returns logical id -> local name/ARN.

    ``secret_values`` overrides fields of a secret's initial value, by logical id (e.g. the
    upstream key or the bootstrap admin key given on the command line).
    """
    overrides = secret_values or {}
    physical: dict[str, str] = {}
    for logical_id, props in template.tables().items():
        name = f"{LOCAL_STACK_NAME}-{logical_id}"
        create_table(endpoint, name, props)
        physical[logical_id] = name
    secretsmanager = _client("secretsmanager", endpoint)
    for spec in template.secrets():
        value: dict[str, Any] = dict(spec.initial or {})
        if spec.generated_key:
            value[spec.generated_key] = secrets.token_urlsafe(36)
        value.update(overrides.get(spec.logical_id, {}))
        created = secretsmanager.create_secret(
            Name=f"{LOCAL_STACK_NAME}/{spec.logical_id}", SecretString=json.dumps(value)
        )
        physical[spec.logical_id] = created["ARN"]
    sns = _client("sns", endpoint)
    for logical_id in template.of_type("AWS::SNS::Topic"):
        physical[logical_id] = sns.create_topic(Name=f"{LOCAL_STACK_NAME}-{logical_id}")["TopicArn"]
    return physical


def pseudo_parameters() -> dict[str, str]:
    return {
        "AWS::Region": LOCAL_REGION,
        "AWS::AccountId": LOCAL_ACCOUNT,
        "AWS::StackName": LOCAL_STACK_NAME,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }


def function_environment(template: TemplateModel, physical: dict[str, str]) -> dict[str, str]:
    """Every function's environment from the template, merged, with references resolved.

    Variables the Lambda Web Adapter reads (``AWS_*``) are left out: locally no adapter runs.
    """
    env: dict[str, str] = {}
    for function in template.functions():
        resolved = environment_of(template, function, physical)
        env |= {name: value for name, value in resolved.items() if not name.startswith("AWS_")}
    return env


def environment_of(
    template: TemplateModel, function: FunctionSpec, physical: dict[str, str]
) -> dict[str, str]:
    """One function's environment from the template (its own and the globals), with
    references resolved; resources missing from ``physical`` resolve to a local name."""
    names = {logical_id: f"{LOCAL_STACK_NAME}-{logical_id}" for logical_id in template.resources}
    return {
        name: template.resolve(value, names | physical, pseudo_parameters())
        for name, value in function.environment.items()
    }
