"""``groq-gateway usage`` and ``groq-gateway audit``: what was used, and who changed what.

Example::

    groq-gateway usage --start 2026-11-01 --group-by team,model --bucket month
    groq-gateway audit --action api_key.revoked --limit 20
"""

from __future__ import annotations

import argparse
from datetime import date
from itertools import islice
from typing import Any

from groq_gateway_dev.cli.arguments import positive_int
from groq_gateway_dev.cli.client import AdminClient, CliError
from groq_gateway_dev.cli.output import print_json, say, table, usd

AUDIT_ACTIONS = [
    "api_key.created",
    "api_key.updated",
    "api_key.revoked",
    "team.created",
    "team.updated",
    "team.deleted",
    "admin_key.created",
    "admin_key.revoked",
]


def day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    usage = commands.add_parser(
        "usage",
        parents=[common],
        help="usage: today and month to date, or history with --start",
        description="Without --start: today and month to date per key, team and the "
        "organisation, with budgets and their reset time. With --start: usage per day or "
        "month, grouped as --group-by says.",
    )
    usage.add_argument("--team", help="only this team")
    usage.add_argument("--key", dest="key_id", metavar="KEY_ID", help="only this key")
    usage.add_argument("--start", type=day, help="history from this UTC day (YYYY-MM-DD)")
    usage.add_argument("--end", type=day, help="history up to this UTC day (default: today)")
    usage.add_argument("--bucket", choices=["day", "month"], default="day")
    usage.add_argument("--model", help="history of this model only")
    usage.add_argument(
        "--group-by", default="key,model", help="key, team, model, comma-separated (history)"
    )
    usage.set_defaults(handler=show_usage)

    audit = commands.add_parser(
        "audit", parents=[common], help="the audit log of admin changes, newest first"
    )
    audit.add_argument("--start", type=day, help="first UTC day (default: a year ago)")
    audit.add_argument("--end", type=day, help="last UTC day (default: today)")
    audit.add_argument("--actor", help="only this admin key id ('bootstrap' for the bootstrap key)")
    audit.add_argument("--action", choices=AUDIT_ACTIONS)
    audit.add_argument("--target", help="only changes to this key, team or admin key id")
    audit.add_argument("--limit", type=positive_int, default=50, help="entries (default 50)")
    audit.set_defaults(handler=show_audit)


def show_usage(args: argparse.Namespace, client: AdminClient) -> int:
    if args.start:
        return _show_history(args, client)
    if args.end or args.model:
        raise CliError("--end and --model go with --start", exit_code=2)
    summary = client.get("/openai/v1/usage")
    keys = [
        row
        for row in summary["usage_by_key"]
        if (args.team is None or row["team"] == args.team)
        and (args.key_id is None or row["key_id"] == args.key_id)
    ]
    teams = [row for row in summary["usage_by_team"] if args.team in (None, row["team"])]
    if args.json:
        print_json({**summary, "usage_by_key": keys, "usage_by_team": teams})
        return 0
    say(
        f"Usage on {summary['date']} (UTC) and in {summary['month']}; monthly budgets reset "
        f"at {summary['resets_at']}.\n"
    )
    headers = ["KEY", "ID", "TEAM", "REQUESTS", "TOKENS", "COST", "MONTH COST", "BUDGET LEFT"]
    say(table(headers, [[r["key_name"], r["key_id"], r["team"], *_figures(r)] for r in keys]))
    if teams and args.key_id is None:
        say()
        say(table(["TEAM", *headers[3:]], [[r["team"], *_figures(r)] for r in teams]))
    org = summary["organization"]  # null for a team-scoped caller
    if args.team is None and args.key_id is None and org is not None:
        say()
        say(table(["ORGANISATION", *headers[3:]], [["all keys", *_figures(org)]]))
    return 0


def _figures(row: dict[str, Any]) -> list[Any]:
    budget = row["budget"]
    left = (
        "-"
        if budget is None
        else (f"{usd(budget['remaining_usd'])} of {usd(budget['monthly_budget_usd'])}")
    )
    if budget and budget["leased_usd"]:  # the organisation's: given back within minutes
        left += f" ({usd(budget['leased_usd'])} held by budget leases)"
    return [
        row["requests_today"],
        row["tokens_today"],
        usd(row["estimated_cost_usd"]),
        usd(row["month_to_date"]["cost_usd"]),
        left,
    ]


def _show_history(args: argparse.Namespace, client: AdminClient) -> int:
    history = client.get(
        "/openai/v1/usage/history",
        {
            "start": args.start,
            "end": args.end,
            "bucket": args.bucket,
            "group_by": args.group_by,
            "key_id": args.key_id,
            "team": args.team,
            "model": args.model,
        },
    )
    if args.json:
        print_json(history)
        return 0
    headers = ["FROM", "TO", "KEY", "TEAM", "MODEL", "REQUESTS", "TOKENS", "COST"]
    rows = [
        [
            bucket["start"],
            bucket["end"],
            result["key_name"] or result["key_id"],
            result["team"],
            result["model"],
            result["requests"],
            result["total_tokens"],
            usd(result["cost_usd"]),
        ]
        for bucket in history["data"]
        for result in bucket["results"]
    ]
    say(table(headers, rows) if rows else "No usage in this range.")
    return 0


def _changed(entry: dict[str, Any]) -> str:
    """The fields an update changed (with old and new value for status and name)."""
    before, after = entry["before"], entry["after"]
    if not before or not after:
        return ""
    changed = [f for f in after if f != "updated_at" and before.get(f) != after.get(f)]
    return ", ".join(
        f"{f}: {before.get(f)} -> {after.get(f)}" if f in ("status", "name") else f for f in changed
    )


def show_audit(args: argparse.Namespace, client: AdminClient) -> int:
    params = {
        "start": args.start,
        "end": args.end,
        "actor": args.actor,
        "action": args.action,
        "target": args.target,
    }
    entries = list(islice(client.list_all("/openai/v1/audit-log", params), args.limit))
    if args.json:
        print_json(entries)
        return 0
    headers = ["TIME", "ACTOR", "ACTION", "TARGET", "SOURCE IP", "CHANGED"]
    rows = [
        [
            e["at"],
            f"{e['actor_name']} ({e['actor_id']})",
            e["action"],
            e["target_id"],
            e["source_ip"],
            _changed(e),
        ]
        for e in entries
    ]
    say(table(headers, rows) if rows else "No audit entries.")
    return 0
