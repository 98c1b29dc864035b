"""``groq-gateway teams create|list|show|update|delete|apply``: teams. ``apply FILE`` creates the
teams missing and changes only the fields that differ, so applying twice changes nothing.

Example::

    groq-gateway teams apply examples/teams.yaml
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from groq_gateway.admin.schemas import CreateTeamRequest
from groq_gateway_dev.cli.arguments import (
    alias_map,
    comma_list,
    given,
    nullable,
    positive_int,
    usd_amount,
)
from groq_gateway_dev.cli.client import AdminClient, ApiError, CliError, path_id
from groq_gateway_dev.cli.output import fields, print_json, say, table, usd

TEAMS_PATH = "/openai/v1/teams"

TEAM_FIELDS = {
    "team_id": "id",
    "description": "description",
    "models": "allowed_models",
    "aliases": "model_aliases",
    "rpm": "requests_per_minute",
    "tpm": "tokens_per_minute",
    "budget": "monthly_budget_usd",
    "status": "status",
    "reason": "paused_reason",
}
SHOWN_FIELDS = [
    "id",
    "description",
    "status",
    "paused_reason",
    "allowed_models",
    "model_aliases",
    "requests_per_minute",
    "tokens_per_minute",
    "monthly_budget_usd",
    "created_at",
    "updated_at",
]


def _team_options(parser: argparse.ArgumentParser, *, clearable: bool) -> None:
    def kind(convert: Any) -> Any:
        return nullable(convert) if clearable else convert

    clear = " ('none': no limit)" if clearable else ""
    unset = argparse.SUPPRESS
    parser.add_argument("--description", default=unset)
    parser.add_argument(
        "--models",
        type=kind(comma_list),
        default=unset,
        help="allowed models, comma-separated (default: every model)"
        + (" ('none': every model)" if clearable else ""),
    )
    parser.add_argument(
        "--aliases",
        type=alias_map,
        default=unset,
        help="REQUESTED=FORWARDED model pairs, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--rpm", type=kind(positive_int), default=unset, help="requests/min" + clear
    )
    parser.add_argument("--tpm", type=kind(positive_int), default=unset, help="tokens/min" + clear)
    parser.add_argument(
        "--budget", type=kind(usd_amount), default=unset, help="monthly budget in USD" + clear
    )


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    teams = commands.add_parser(
        "teams", help="teams: create, list, show, update, delete, apply FILE"
    )
    actions = teams.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create a team")
    create.add_argument("team_id", metavar="ID", help="lowercase letters, digits and dashes")
    _team_options(create, clearable=False)
    create.set_defaults(handler=create_team)

    listing = actions.add_parser("list", parents=[common], help="list teams")
    listing.set_defaults(handler=list_teams)

    show = actions.add_parser("show", parents=[common], help="show one team")
    show.add_argument("team_id", metavar="ID")
    show.set_defaults(handler=show_team)

    update = actions.add_parser(
        "update", parents=[common], help="change models, aliases, limits; pause or resume"
    )
    update.add_argument("team_id", metavar="ID")
    _team_options(update, clearable=True)
    update.add_argument(
        "--status", choices=["active", "paused"], default=argparse.SUPPRESS, help="pause or resume"
    )
    update.add_argument("--reason", default=argparse.SUPPRESS, help="why, with --status paused")
    update.set_defaults(handler=update_team)

    delete = actions.add_parser(
        "delete", parents=[common], help="delete a team (refused while it has keys)"
    )
    delete.add_argument("team_id", metavar="ID")
    delete.set_defaults(handler=delete_team)

    apply = actions.add_parser(
        "apply", parents=[common], help="create or update teams from a YAML or JSON file"
    )
    apply.add_argument("file", type=Path)
    apply.set_defaults(handler=apply_teams)


def describe(team: dict[str, Any]) -> str:
    return fields({**team, "monthly_budget_usd": usd(team.get("monthly_budget_usd"))}, SHOWN_FIELDS)


def _print_team(args: argparse.Namespace, team: dict[str, Any]) -> None:
    if args.json:
        print_json(team)
    else:
        say(describe(team))


def create_team(args: argparse.Namespace, client: AdminClient) -> int:
    _print_team(args, client.post(TEAMS_PATH, given(args, TEAM_FIELDS)))
    return 0


def list_teams(args: argparse.Namespace, client: AdminClient) -> int:
    teams = list(client.list_all(TEAMS_PATH))
    if args.json:
        print_json(teams)
        return 0
    headers = ["ID", "STATUS", "MODELS", "ALIASES", "RPM", "TPM", "BUDGET", "DESCRIPTION"]
    rows = [
        [
            t["id"],
            t["status"],
            "(all)" if t["allowed_models"] is None else t["allowed_models"],
            t["model_aliases"],
            t["requests_per_minute"],
            t["tokens_per_minute"],
            usd(t["monthly_budget_usd"]),
            t["description"],
        ]
        for t in teams
    ]
    say(table(headers, rows) if rows else "No teams.")
    return 0


def show_team(args: argparse.Namespace, client: AdminClient) -> int:
    _print_team(args, client.get(f"{TEAMS_PATH}/{path_id(args.team_id)}"))
    return 0


def update_team(args: argparse.Namespace, client: AdminClient) -> int:
    changes = given(args, TEAM_FIELDS)
    changes.pop("id")
    if not changes:
        raise CliError("nothing to change: give at least one option (see --help)", exit_code=2)
    _print_team(args, client.patch(f"{TEAMS_PATH}/{path_id(args.team_id)}", changes))
    return 0


def delete_team(args: argparse.Namespace, client: AdminClient) -> int:
    deleted = client.delete(f"{TEAMS_PATH}/{path_id(args.team_id)}")
    if args.json:
        print_json(deleted)
    else:
        say(f"Deleted team {deleted['id']}.")
    return 0


def load_teams(path: Path) -> list[CreateTeamRequest]:
    """The teams of a YAML or JSON file, each checked as ``POST /teams`` would check it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CliError(
            f"{path} is not valid {path.suffix.lstrip('.').upper()}: {first_line}"
        ) from None
    entries = document.get("teams") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CliError(f"{path}: expected a top-level 'teams' list")
    teams = []
    for index, entry in enumerate(entries):
        try:
            teams.append(CreateTeamRequest.model_validate(entry))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            at = f"teams[{index}]" + (f".{where}" if where else "")
            raise CliError(f"{path}: {at}: {first['msg']}") from None
    ids = [team.id for team in teams]
    repeated = sorted({team_id for team_id in ids if ids.count(team_id) > 1})
    if repeated:
        raise CliError(f"{path}: team {', '.join(repeated)} appears more than once")
    return teams


def _same(field: str, wanted: Any, current: Any) -> bool:
    if field == "monthly_budget_usd" and wanted is not None and current is not None:
        return Decimal(str(wanted)) == Decimal(str(current))
    return bool(wanted == current)


def changed_fields(wanted: CreateTeamRequest, current: dict[str, Any]) -> dict[str, Any]:
    """The fields the file gives whose values differ from the team's current ones."""
    given_fields = wanted.model_dump(mode="json", include=wanted.model_fields_set - {"id"})
    return {
        field: value
        for field, value in given_fields.items()
        if not _same(field, value, current.get(field))
    }


def apply_teams(args: argparse.Namespace, client: AdminClient) -> int:
    outcomes = []
    for team in load_teams(args.file):
        path = f"{TEAMS_PATH}/{path_id(team.id)}"
        try:
            current = client.get(path)
        except ApiError as error:
            if error.status != 404:
                raise
            client.post(TEAMS_PATH, team.model_dump(mode="json", exclude_unset=True))
            outcomes.append({"id": team.id, "outcome": "created", "fields": []})
            continue
        changes = changed_fields(team, current)
        if changes:
            client.patch(path, changes)
        outcomes.append(
            {"id": team.id, "outcome": "updated" if changes else "unchanged", "fields": [*changes]}
        )
    if args.json:
        print_json(outcomes)
    else:
        for outcome in outcomes:
            detail = f" ({', '.join(outcome['fields'])})" if outcome["fields"] else ""
            say(f"{outcome['outcome']:<9} {outcome['id']}{detail}")
    return 0
