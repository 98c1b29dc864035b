"""`groq-gateway upstream`: staging Groq keys in the upstream key secret (moto's server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from groq_gateway_dev.cli.upstream import UpstreamError, add_key, rotate, status
from tests.conftest import UPSTREAM_KEY


@pytest.fixture
def secrets(local_aws: dict[str, str]) -> tuple[object, str]:
    return boto3.client("secretsmanager"), local_aws["UpstreamKeySecret"]


def test_add_key_stages_once_and_status_never_prints_a_key(
    secrets: tuple[object, str], capsys: pytest.CaptureFixture[str]
) -> None:
    client, secret_id = secrets
    new_key = "gsk_new_key_from_the_console_0123456789"
    add_key(client, secret_id, new_key)
    add_key(client, secret_id, new_key)
    status(client, secret_id)
    out = capsys.readouterr().out
    assert "already in the pool" in out
    assert "staged:   1" in out
    assert new_key not in out
    assert UPSTREAM_KEY not in out


@pytest.mark.parametrize("bad", ["", "sk-openai-key-1234567890", "gsk_ with space", "gsk_x"])
def test_add_key_refuses_what_is_not_a_groq_key(secrets: tuple[object, str], bad: str) -> None:
    client, secret_id = secrets
    with pytest.raises(UpstreamError):
        add_key(client, secret_id, bad)


def test_rotate_needs_a_staged_key(secrets: tuple[object, str]) -> None:
    client, secret_id = secrets
    with pytest.raises(UpstreamError, match="no staged key"):
        rotate(client, secret_id)


def test_the_console_script_stages_a_key_from_stdin(
    local_aws: dict[str, str], aws_endpoint: str
) -> None:
    script = Path(sys.executable).with_name("groq-gateway")
    result = subprocess.run(
        [str(script), "upstream", "add-key", "--secret-id", local_aws["UpstreamKeySecret"]],
        input="gsk_piped_in_key_0123456789\n",
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_ENDPOINT_URL": aws_endpoint},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "gsk_pipe…" in result.stdout
    assert "gsk_piped_in_key_0123456789" not in result.stdout + result.stderr
    missing = subprocess.run(
        [str(script), "upstream", "status"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "GROQ_GATEWAY_UPSTREAM_SECRET"},
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert "--secret-id" in missing.stderr
