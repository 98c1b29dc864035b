"""The ``groq-gateway`` command line.

Example::

    groq-gateway dev --simulate --port 3000
"""

from __future__ import annotations

import argparse
import sys

from groq_gateway.cli import dev


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groq-gateway", description="Groq access gateway: local run and administration."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dev.add_arguments(commands.add_parser("dev", help="run the whole gateway locally on one port"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        return dev.run(args)
    raise SystemExit(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
