"""The admin API's OpenAPI document, as the app serves it at ``/openai/v1/admin/openapi.json``.

``docs/openapi.json`` is this document, committed; a test fails when the two differ.
Regenerate it after changing a route or a schema::

    python -m groq_gateway.admin.openapi docs/openapi.json
    python -m groq_gateway.admin.openapi --check docs/openapi.json   # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3

from groq_gateway.admin.app import create_app
from groq_gateway.core.settings import Settings
from groq_gateway.store import GatewayStore


def document() -> dict[str, Any]:
    """The document, built without touching AWS (the app is only constructed)."""
    settings = Settings(table_name="openapi")
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",  # noqa: S106 - never sent: no call is made
    )
    openapi: dict[str, Any] = create_app(
        settings, store=GatewayStore("openapi", client=client)
    ).openapi()
    return openapi


def render(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", type=Path, help="where the document goes, e.g. docs/openapi.json")
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run python -m groq_gateway.admin.openapi {args.path}")
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
