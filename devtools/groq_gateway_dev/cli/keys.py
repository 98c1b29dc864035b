"""``groq-gateway keys create|list|show|update|revoke``: gateway keys.

Example::

    groq-gateway keys create chatbot-prod --team chatbot --models llama-3.1-8b-instant --rpm 500
    groq-gateway keys update 0123456789abcdef --status paused --reason "incident 42"
"""

from __future__ import annotations

import argparse
from typing import Any

from groq_gateway_dev.cli.arguments import (
    comma_list,
    given,
    nullable,
    positive_int,
    usd_amount,
)
from groq_gateway_dev.cli.client import AdminClient, CliError, path_id
from groq_gateway_dev.cli.output import fields, print_json, say, table, usd

KEYS_PATH = "/openai/v1/api-keys"
STATUSES = ["active", "paused", "revoked", "expired"]
ENDPOINT_GROUPS = "chat,responses,models,audio,files,batches"

# Option dest -> API field, for create and update.
KEY_FIELDS = {
    "name": "name",
    "team": "team",
    "description": "description",
    "models": "allowed_models",
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
    "budget": "monthly_budget_usd",
    "expires_at": "expires_at",
    "endpoints": "allowed_endpoints",
    "cidrs": "allowed_cidrs",
    "rotation_days": "rotation_period_days",
    "grace_hours": "grace_period_hours",
    "quiet_hours": "quiet_period_hours",
    "deadline_hours": "retire_deadline_hours",
    "warning_hours": "deadline_warning_hours",
    "deliver_to_secret": "deliver_to_secret",
    "status": "status",
    "reason": "paused_reason",
}
SHOWN_FIELDS = [
    "id",
    "name",
    "prefix",
    "team",
    "status",
    "paused_reason",
    "description",
    "allowed_models",
    "requests_per_minute",
    "tokens_per_minute",
    "monthly_budget_usd",
    "expires_at",
    "allowed_endpoints",
    "allowed_cidrs",
    "rotation_period_days",
    "deliver_to_secret",
    "last_rotated_at",
    "previous_secrets",
    "created_at",
    "updated_at",
]


def _limit_options(parser: argparse.ArgumentParser, *, clearable: bool) -> None:
    """The key's rights and limits; on update, ``none`` clears one."""

    def kind(convert: Any) -> Any:
        return nullable(convert) if clearable else convert

    clear = " ('none': no limit of its own)" if clearable else ""
    unset = argparse.SUPPRESS
    parser.add_argument("--team", type=kind(str), default=unset, help="the key's team")
    parser.add_argument("--description", default=unset)
    parser.add_argument(
        "--models",
        type=kind(comma_list),
        default=unset,
        help="allowed models, comma-separated (default: every model the team allows)"
        + (" ('none': the team's)" if clearable else ""),
    )
    parser.add_argument(
        "--rpm", type=kind(positive_int), default=unset, help="requests/min" + clear
    )
    parser.add_argument("--tpm", type=kind(positive_int), default=unset, help="tokens/min" + clear)
    parser.add_argument(
        "--budget", type=kind(usd_amount), default=unset, help="monthly budget in USD" + clear
    )
    parser.add_argument(
        "--expires-at", type=kind(str), default=unset, help="ISO 8601 time (UTC unless given)"
    )
    parser.add_argument(
        "--endpoints",
        type=kind(comma_list),
        default=unset,
        help=f"endpoint groups, comma-separated, of {ENDPOINT_GROUPS}",
    )
    parser.add_argument(
        "--cidrs", type=kind(comma_list), default=unset, help="source CIDR blocks, comma-separated"
    )
    parser.add_argument(
        "--rotation-days", type=kind(positive_int), default=unset, help="rotate every N days"
    )
    parser.add_argument(
        "--grace-hours", type=int, default=unset, help="old secret valid this long after a rotation"
    )
    parser.add_argument(
        "--quiet-hours",
        type=int,
        default=unset,
        help="retire the old secret after this long unused",
    )
    parser.add_argument(
        "--deadline-hours",
        type=int,
        default=unset,
        help="retire the old secret by then at the latest",
    )
    parser.add_argument(
        "--warning-hours", type=int, default=unset, help="alert this long before the deadline"
    )
    parser.add_argument(
        "--deliver-to-secret",
        action=argparse.BooleanOptionalAction,
        default=unset,
        help="deliver each new secret to Secrets Manager (<stack>/keys/<key id>)",
    )


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser(
        "keys", help="gateway keys: create, list, show, update, revoke, rotate"
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create a key (shown once)")
    create.add_argument("name")
    _limit_options(create, clearable=False)
    create.set_defaults(handler=create_key)

    listing = actions.add_parser("list", parents=[common], help="list keys, newest first")
    listing.add_argument("--team", help="only this team's keys")
    listing.add_argument("--status", choices=STATUSES, help="only keys in this status")
    listing.set_defaults(handler=list_keys)

    show = actions.add_parser("show", parents=[common], help="show one key (never the key)")
    show.add_argument("key_id")
    show.set_defaults(handler=show_key)

    update = actions.add_parser(
        "update", parents=[common], help="change limits or allowlists; pause or resume"
    )
    update.add_argument("key_id")
    update.add_argument("--name", default=argparse.SUPPRESS)
    _limit_options(update, clearable=True)
    update.add_argument(
        "--status", choices=["active", "paused"], default=argparse.SUPPRESS, help="pause or resume"
    )
    update.add_argument("--reason", default=argparse.SUPPRESS, help="why, with --status paused")
    update.set_defaults(handler=update_key)

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key for good")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=revoke_key)

    rotate = actions.add_parser(
        "rotate", parents=[common], help="new secret now; the old one keeps working for its grace"
    )
    rotate.add_argument("key_id")
    rotate.set_defaults(handler=rotate_key)


def describe(key: dict[str, Any]) -> str:
    return fields({**key, "monthly_budget_usd": usd(key.get("monthly_budget_usd"))}, SHOWN_FIELDS)


def create_key(args: argparse.Namespace, client: AdminClient) -> int:
    created = client.post(KEYS_PATH, given(args, KEY_FIELDS))
    if args.json:
        print_json(created)
        return 0
    say(describe(created))
    say(f"\nkey: {created['key']}")
    say("This is the only time the key is shown; store it now (only its hash is kept).")
    return 0


def list_keys(args: argparse.Namespace, client: AdminClient) -> int:
    keys = list(client.list_all(KEYS_PATH, {"team": args.team, "status": args.status}))
    if args.json:
        print_json(keys)
        return 0
    headers = ["ID", "NAME", "TEAM", "STATUS", "PREFIX", "MODELS", "RPM", "TPM", "BUDGET"]
    rows = [
        [
            k["id"],
            k["name"],
            k["team"],
            k["status"],
            k["prefix"],
            "(team's)" if k["allowed_models"] is None else k["allowed_models"],
            k["requests_per_minute"],
            k["tokens_per_minute"],
            usd(k["monthly_budget_usd"]),
        ]
        for k in keys
    ]
    say(table(headers, rows) if rows else "No keys.")
    return 0


def show_key(args: argparse.Namespace, client: AdminClient) -> int:
    key = client.get(f"{KEYS_PATH}/{path_id(args.key_id)}")
    if args.json:
        print_json(key)
    else:
        say(describe(key))
    return 0


def update_key(args: argparse.Namespace, client: AdminClient) -> int:
    changes = given(args, KEY_FIELDS)
    if not changes:
        raise CliError("nothing to change: give at least one option (see --help)", exit_code=2)
    key = client.patch(f"{KEYS_PATH}/{path_id(args.key_id)}", changes)
    if args.json:
        print_json(key)
    else:
        say(describe(key))
    return 0


def revoke_key(args: argparse.Namespace, client: AdminClient) -> int:
    key = client.delete(f"{KEYS_PATH}/{path_id(args.key_id)}")
    if args.json:
        print_json(key)
    else:
        say(f"Revoked key {key['name']} ({key['id']}).")
    return 0


def rotate_key(args: argparse.Namespace, client: AdminClient) -> int:
    rotated = client.post(f"{KEYS_PATH}/{path_id(args.key_id)}/rotate", {})
    if args.json:
        print_json(rotated)
        return 0
    say(describe(rotated))
    say(f"\nnew key: {rotated['key']}")
    if rotated.get("delivered_to"):
        say(f"Delivered to the Secrets Manager secret {rotated['delivered_to']}.")
    say("The old secret keeps working through its grace period; give your app the new one.")
    return 0
