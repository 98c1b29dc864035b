"""``groq-gateway prices list|set|delete``: the prices the gateway charges, and the operator's
own prices, set and deleted without a redeploy (the proxy applies a change within its refresh
interval, 60 s by default). See docs/operations.md#setting-a-price.

Example::

    groq-gateway prices set canopylabs/orpheus-v1-english --speech 22
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from groq_gateway_dev.cli.arguments import usd_amount
from groq_gateway_dev.cli.client import AdminClient, CliError
from groq_gateway_dev.cli.output import cell, print_json, say, table

PRICES_PATH = "/openai/v1/prices"

# Option -> the API's field.
PRICE_FIELDS = {
    "input": "input_per_million",
    "output": "output_per_million",
    "audio_hour": "per_audio_hour",
    "speech": "per_million_characters",
    "batch_input": "batch_input_per_million",
    "batch_output": "batch_output_per_million",
}


def price_path(model: str) -> str:
    """A model's price path: its id as Groq spells it, slashes included."""
    return f"{PRICES_PATH}/{quote(model, safe='/')}"


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    prices = commands.add_parser(
        "prices", help="prices: list the effective prices, set or delete a model's price"
    )
    actions = prices.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list", parents=[common], help="every priced model, its price and where it comes from"
    )
    listing.set_defaults(handler=list_prices)

    setting = actions.add_parser(
        "set", parents=[common], help="set a model's price in USD (over the shipped one)"
    )
    setting.add_argument("model", metavar="MODEL", help="Groq's model id")
    unset = argparse.SUPPRESS
    setting.add_argument("--input", type=usd_amount, default=unset, help="per million input tokens")
    setting.add_argument(
        "--output", type=usd_amount, default=unset, help="per million output tokens"
    )
    setting.add_argument(
        "--audio-hour", type=usd_amount, default=unset, help="per hour of audio (transcription)"
    )
    setting.add_argument(
        "--speech", type=usd_amount, default=unset, help="per million input characters (speech)"
    )
    setting.add_argument(
        "--batch-input", type=usd_amount, default=unset, help="per million input tokens in batches"
    )
    setting.add_argument(
        "--batch-output",
        type=usd_amount,
        default=unset,
        help="per million output tokens in batches",
    )
    setting.set_defaults(handler=set_price)

    delete = actions.add_parser(
        "delete",
        parents=[common],
        help="delete a model's operator price (the shipped price, if any, applies again)",
    )
    delete.add_argument("model", metavar="MODEL")
    delete.set_defaults(handler=delete_price)


def _price_cells(price: dict[str, Any]) -> list[Any]:
    return [price.get(field) for field in PRICE_FIELDS.values()]


def list_prices(args: argparse.Namespace, client: AdminClient) -> int:
    listed = client.get(PRICES_PATH)
    if args.json:
        print_json(listed)
        return 0
    headers = ["MODEL", "SOURCE", "INPUT/M", "OUTPUT/M", "AUDIO/H", "SPEECH/M CHARS"]
    headers += ["BATCH IN/M", "BATCH OUT/M", "SET BY"]
    rows = [
        [p["model"], p["source"], *_price_cells(p), p.get("updated_by")] for p in listed["data"]
    ]
    say(table(headers, rows) if rows else "No prices.")
    unpriced = listed["unpriced_models"]
    say(
        f"\nBatch API: {cell(listed['batch_discount'])} off the token price.\n"
        f"Models without a price: {unpriced['policy']}"
        + (
            f" at ${unpriced['input_per_million']}/${unpriced['output_per_million']} per "
            f"million tokens, ${unpriced['per_audio_hour']} per audio hour, "
            f"${unpriced['per_million_characters']} per million characters."
            if unpriced["policy"] == "charge"
            else " (403 model_unpriced)."
        )
    )
    return 0


def set_price(args: argparse.Namespace, client: AdminClient) -> int:
    body = {field: getattr(args, option) for option, field in PRICE_FIELDS.items()
            if hasattr(args, option)}  # fmt: skip
    if not body:
        raise CliError(
            "give a price: --input and --output, --audio-hour or --speech (see --help)",
            exit_code=2,
        )
    price = client.request("PUT", price_path(args.model), body=body)
    if args.json:
        print_json(price)
    else:
        given = ", ".join(f"{field} ${price[field]}" for field in body)
        say(f"Set the price of {price['model']}: {given}.")
    return 0


def delete_price(args: argparse.Namespace, client: AdminClient) -> int:
    deleted = client.delete(price_path(args.model))
    if args.json:
        print_json(deleted)
    elif deleted["effective"] is None:
        say(f"Deleted the price of {deleted['model']}; it has no price now (the fallback).")
    else:
        say(
            f"Deleted the operator price of {deleted['model']}; the "
            f"{deleted['effective']['source']} price applies again."
        )
    return 0
