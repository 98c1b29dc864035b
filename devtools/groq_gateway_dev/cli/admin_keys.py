"""``groq-gateway admin-keys create|list|revoke``: admin keys (``read_only`` or ``full`` over
the organisation, ``team_viewer`` or ``team_admin`` of named teams).

Example::

    groq-gateway admin-keys create dashboards --role read_only
    groq-gateway admin-keys create chatbot-lead --role team_admin --team chatbot
    groq-gateway admin-keys revoke 0123456789abcdef
"""

from __future__ import annotations

import argparse
from typing import Any

from groq_gateway_dev.cli.client import AdminClient, CliError, path_id
from groq_gateway_dev.cli.output import print_json, say, table

ADMIN_KEYS_PATH = "/openai/v1/admin-keys"
ROLES = ["read_only", "full", "team_viewer", "team_admin"]


def role_teams(role: str, teams: list[str] | None) -> list[str] | None:
    """The teams to send with ``role``: required for a team role, refused for the others."""
    if role.startswith("team_") and not teams:
        raise CliError(f"--role {role} needs --team (one or more)", exit_code=2)
    if not role.startswith("team_") and teams:
        raise CliError(f"--role {role} is organisation-wide: give no --team", exit_code=2)
    return teams


def role_text(record: dict[str, Any]) -> str:
    """``team_admin (a, b)`` or ``full``."""
    teams = record.get("teams")
    return f"{record['role']} ({', '.join(teams)})" if teams else str(record["role"])


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    admin_keys = commands.add_parser("admin-keys", help="admin keys: create, list, revoke")
    actions = admin_keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create an admin key (shown once)")
    create.add_argument("name")
    create.add_argument(
        "--role",
        choices=ROLES,
        required=True,
        help="read_only: reads everything; full: everything; team_viewer: reads its teams' "
        "keys, usage and audit log; team_admin: also manages its teams' keys",
    )
    create.add_argument(
        "--team",
        action="append",
        dest="teams",
        metavar="TEAM",
        help="a team the team_admin or team_viewer role holds for (repeat for several)",
    )
    create.add_argument("--description", default="")
    create.set_defaults(handler=create_admin_key)

    listing = actions.add_parser("list", parents=[common], help="list admin keys, newest first")
    listing.add_argument("--status", choices=["active", "revoked"])
    listing.set_defaults(handler=list_admin_keys)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke an admin key at once")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=revoke_admin_key)


def create_admin_key(args: argparse.Namespace, client: AdminClient) -> int:
    body: dict[str, Any] = {"name": args.name, "role": args.role, "description": args.description}
    teams = role_teams(args.role, args.teams)
    if teams:
        body["teams"] = teams
    created = client.post(ADMIN_KEYS_PATH, body)
    if args.json:
        print_json(created)
        return 0
    say(f"Created {role_text(created)} admin key {created['name']} ({created['id']}).")
    say(f"key: {created['key']}")
    say("This is the only time the key is shown; store it now (only its hash is kept).")
    return 0


def list_admin_keys(args: argparse.Namespace, client: AdminClient) -> int:
    keys = list(client.list_all(ADMIN_KEYS_PATH, {"status": args.status}))
    if args.json:
        print_json(keys)
        return 0
    headers = ["ID", "NAME", "ROLE", "STATUS", "PREFIX", "CREATED BY", "CREATED AT"]
    rows = [
        [
            k["id"],
            k["name"],
            role_text(k),
            k["status"],
            k["prefix"],
            k["created_by"],
            k["created_at"],
        ]
        for k in keys
    ]
    say(table(headers, rows) if rows else "No admin keys.")
    return 0


def revoke_admin_key(args: argparse.Namespace, client: AdminClient) -> int:
    key = client.delete(f"{ADMIN_KEYS_PATH}/{path_id(args.key_id)}")
    if args.json:
        print_json(key)
    else:
        say(f"Revoked admin key {key['name']} ({key['id']}).")
    return 0
