"""``groq-gateway iam-principals list|set|delete``: the admin roles a full admin maps to IAM
principals the template's ARN lists do not name; ``groq-gateway whoami``: the caller's role.

Example::

    groq-gateway iam-principals set arn:aws:iam::123456789012:role/ChatbotLead \\
        --role team_admin --team chatbot
    groq-gateway --sigv4 --region eu-west-1 whoami
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from groq_gateway_dev.cli.admin_keys import ROLES, role_teams, role_text
from groq_gateway_dev.cli.client import AdminClient
from groq_gateway_dev.cli.output import print_json, say, table

IAM_PRINCIPALS_PATH = "/openai/v1/admin/iam-principals"
ME_PATH = "/openai/v1/admin/me"


def principal_path(arn: str) -> str:
    """The ARN as the route's path (its ``/`` kept: the route takes the rest of the path)."""
    return f"{IAM_PRINCIPALS_PATH}/{quote(arn, safe='/:')}"


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    principals = commands.add_parser(
        "iam-principals", help="IAM principals' admin roles: list, set, delete"
    )
    actions = principals.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", parents=[common], help="list the mapped roles")
    listing.set_defaults(handler=list_principals)

    setting = actions.add_parser("set", parents=[common], help="map a role to an IAM principal")
    setting.add_argument("arn", help="a user, a role (every session of it) or an account's root")
    setting.add_argument("--role", choices=ROLES, required=True)
    setting.add_argument(
        "--team",
        action="append",
        dest="teams",
        metavar="TEAM",
        help="a team the team_admin or team_viewer role holds for (repeat for several)",
    )
    setting.set_defaults(handler=set_principal)

    deleting = actions.add_parser("delete", parents=[common], help="delete a principal's role")
    deleting.add_argument("arn")
    deleting.set_defaults(handler=delete_principal)

    whoami = commands.add_parser("whoami", parents=[common], help="the caller's role and teams")
    whoami.set_defaults(handler=show_caller)


def list_principals(args: argparse.Namespace, client: AdminClient) -> int:
    principals = client.get(IAM_PRINCIPALS_PATH)["data"]
    if args.json:
        print_json(principals)
        return 0
    headers = ["ARN", "ROLE", "UPDATED BY", "UPDATED AT"]
    rows = [[p["arn"], role_text(p), p["updated_by"], p["updated_at"]] for p in principals]
    say(table(headers, rows) if rows else "No IAM principal has a mapped role.")
    return 0


def set_principal(args: argparse.Namespace, client: AdminClient) -> int:
    body: dict[str, Any] = {"role": args.role}
    teams = role_teams(args.role, args.teams)
    if teams:
        body["teams"] = teams
    principal = client.request("PUT", principal_path(args.arn), body=body)
    if args.json:
        print_json(principal)
    else:
        say(f"{principal['arn']} is {role_text(principal)} (within seconds on every instance).")
    return 0


def delete_principal(args: argparse.Namespace, client: AdminClient) -> int:
    deleted = client.delete(principal_path(args.arn))
    if args.json:
        print_json(deleted)
    else:
        say(f"Deleted the mapped role of {deleted['arn']}.")
    return 0


def show_caller(args: argparse.Namespace, client: AdminClient) -> int:
    me = client.get(ME_PATH)
    if args.json:
        print_json(me)
    else:
        say(f"{me['name']} ({me['actor']}): {role_text(me)}")
    return 0
