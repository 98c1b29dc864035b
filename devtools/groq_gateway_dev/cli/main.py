"""The ``groq-gateway`` command line: the local run and the admin API. An error is one line on
stderr, exit code 1 (refused or unreachable) or 2 (incomplete). See docs/admin-api.md#command-line.

Example::

    groq-gateway --url "$STAGE_URL" --sigv4 --region eu-west-1 audit
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable

import httpx

from groq_gateway_dev.cli import (
    admin_keys,
    iam_principals,
    keys,
    prices,
    reports,
    smoke,
    teams,
    upstream,
)
from groq_gateway_dev.cli.arguments import ADMIN_KEY_VARIABLE, URL_VARIABLE, connection_options
from groq_gateway_dev.cli.client import AdminAuth, AdminClient, AdminKeyAuth, CliError, IamAuth
from groq_gateway_dev.cli.output import say

Handler = Callable[[argparse.Namespace, AdminClient], int]
DEV_HELP = "run the whole gateway locally on one port"
UPSTREAM_HELP = "the upstream Groq key pool: status, add-key, rotate"
# What `groq-gateway dev` imports from the local extra (moto[server]): module, distribution.
LOCAL_EXTRA_MODULES = (("moto", "moto"), ("flask", "moto[server]"), ("flask_cors", "moto[server]"))


def dev_parser() -> argparse.ArgumentParser:
    from groq_gateway_dev.cli import dev

    parser = argparse.ArgumentParser(prog="groq-gateway dev", description=DEV_HELP)
    dev.add_arguments(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groq-gateway",
        description="Groq access gateway: local run and administration.",
        parents=[connection_options(defaults=True)],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `dev` parses its own options (dev_parser): its module loads the local AWS and server
    # stack, which the admin commands do not need, so it is imported only when it runs.
    commands.add_parser("dev", help=DEV_HELP, add_help=False)
    # `upstream` talks to Secrets Manager with AWS credentials, not to the gateway.
    upstream.add_arguments(commands.add_parser("upstream", help=UPSTREAM_HELP))
    common = connection_options(defaults=False)
    keys.add_commands(commands, common)
    teams.add_commands(commands, common)
    reports.add_commands(commands, common)
    admin_keys.add_commands(commands, common)
    iam_principals.add_commands(commands, common)
    prices.add_commands(commands, common)
    smoke.add_commands(commands, common)
    return parser


def admin_auth(args: argparse.Namespace) -> AdminAuth:
    """How to authenticate: SigV4 with ``--sigv4`` (the admin key is then not sent), else the
    admin key."""
    if args.sigv4:
        return IamAuth.from_aws_chain(args.region)
    if not args.client_admin_key:
        raise CliError(f"give an admin key with --admin-key or ${ADMIN_KEY_VARIABLE}", exit_code=2)
    return AdminKeyAuth(args.client_admin_key)


def run_admin_command(
    args: argparse.Namespace, transport: httpx.BaseTransport | None = None
) -> int:
    """Run a parsed admin command; errors become one line on stderr and an exit code."""
    handler: Handler = args.handler
    try:
        if not args.url:
            raise CliError(f"give the gateway's URL with --url or ${URL_VARIABLE}", exit_code=2)
        client = AdminClient(args.url, admin_auth(args), transport=transport)
        try:
            return handler(args, client)
        finally:
            client.close()
    except CliError as error:
        say(f"groq-gateway: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:  # a bug or an answer of an unexpected shape: still one line
        say(f"groq-gateway: unexpected error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def missing_local_extra() -> str | None:
    """The first distribution of the ``local`` extra that is not installed, if any."""
    for module, distribution in LOCAL_EXTRA_MODULES:
        if importlib.util.find_spec(module) is None:
            return distribution
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "dev":
        if missing := missing_local_extra():
            print(
                f"groq-gateway: `groq-gateway dev` needs {missing}, which the local extra "
                "installs: pip install 'groq-gateway[local]'",
                file=sys.stderr,
            )
            return 2
        from groq_gateway_dev.cli import dev

        return dev.run(dev_parser().parse_args(rest))
    if args.command == "upstream":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return upstream.run(args)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return run_admin_command(args)
    except KeyboardInterrupt:
        print("groq-gateway: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
