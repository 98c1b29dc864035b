"""``groq-gateway upstream``: stage Groq keys in Secrets Manager for the rotation function to
promote. A key is read from stdin or a hidden prompt, never an argument, never printed back.

Example::

    groq-gateway upstream add-key --secret-id "$UPSTREAM_SECRET_ARN" < new-key.txt
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

SECRET_VARIABLE = "GROQ_GATEWAY_UPSTREAM_SECRET"  # noqa: S105 - a variable name


class UpstreamError(Exception):
    pass


def shown(key: str) -> str:
    return f"{key[:8]}…" if key else "(none)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (
        ("status", "show the active and staged keys (their first characters only)"),
        ("add-key", "stage a key created in the Groq console (read from stdin or a prompt)"),
        ("rotate", "promote the first staged key now (Secrets Manager rotation)"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument(
            "--secret-id",
            default=os.environ.get(SECRET_VARIABLE),
            help=f"the upstream key secret's ARN or name (default: ${SECRET_VARIABLE})",
        )
        action.add_argument("--region", default=None, help="AWS region (default: your config)")


def _client(region: str | None) -> Any:
    return boto3.client("secretsmanager", region_name=region)


def _current(client: Any, secret_id: str) -> dict[str, Any]:
    value = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    payload = json.loads(value["SecretString"])
    if not isinstance(payload, dict):
        raise UpstreamError("the secret does not hold the gateway's JSON object")
    return payload


def _read_key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Groq API key (input hidden): ").strip()
    return sys.stdin.readline().strip()


def status(client: Any, secret_id: str) -> None:
    value = _current(client, secret_id)
    staged = [k for k in value.get("staged", []) if isinstance(k, str)]
    print(f"active:   {shown(str(value.get('active') or ''))}")
    print(f"staged:   {len(staged)}" + (f" ({', '.join(map(shown, staged))})" if staged else ""))
    if value.get("previous"):
        print(f"previous: {shown(str(value['previous']))}")
    description = client.describe_secret(SecretId=secret_id)
    if description.get("RotationEnabled"):
        print(f"rotation: on; next {description.get('NextRotationDate', 'when scheduled')}")
    else:
        print("rotation: off")


def add_key(client: Any, secret_id: str, key: str) -> None:
    if not key.startswith("gsk_") or len(key) < 12 or any(c.isspace() for c in key):
        raise UpstreamError("that does not look like a Groq API key (gsk_…)")
    value = _current(client, secret_id)
    staged = [k for k in value.get("staged", []) if isinstance(k, str)]
    if key == value.get("active") or key in staged:
        print(f"{shown(key)} is already in the pool; nothing changed.")
        return
    value["staged"] = [*staged, key]
    client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    print(f"staged {shown(key)}; {len(value['staged'])} key(s) waiting to be promoted.")


def rotate(client: Any, secret_id: str) -> None:
    if not _current(client, secret_id).get("staged"):
        raise UpstreamError("no staged key to promote: add one with `upstream add-key` first")
    client.rotate_secret(SecretId=secret_id)
    print("rotation started; check it with `groq-gateway upstream status`.")


def run(args: argparse.Namespace) -> int:
    try:
        if not args.secret_id:
            raise UpstreamError(f"give the secret with --secret-id or ${SECRET_VARIABLE}")
        client = _client(args.region)
        if args.action == "status":
            status(client, args.secret_id)
        elif args.action == "add-key":
            add_key(client, args.secret_id, _read_key())
        else:
            rotate(client, args.secret_id)
    except (UpstreamError, ClientError, BotoCoreError, json.JSONDecodeError) as error:
        print(f"groq-gateway: {error}", file=sys.stderr)
        return 1
    return 0
