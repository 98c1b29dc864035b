"""Argument types and options shared by the admin commands. On ``update`` commands an option
left out leaves the field as it is (``argparse.SUPPRESS``) and ``none`` clears a limit.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

T = TypeVar("T")

URL_VARIABLE = "GROQ_GATEWAY_URL"
ADMIN_KEY_VARIABLE = "GROQ_GATEWAY_ADMIN_KEY"


def connection_options(*, defaults: bool) -> argparse.ArgumentParser:
    """``--url``, ``--admin-key`` (or ``--sigv4`` and ``--region``) and ``--json``, for the
    top-level parser (``defaults``: from the environment) and again for each command
    (``defaults=False``: given there or not at all), so they work before or after the
    command's name."""
    parent = argparse.ArgumentParser(add_help=False)
    unset = argparse.SUPPRESS
    parent.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE) if defaults else unset,
        help=f"the gateway's URL, e.g. http://127.0.0.1:3000 (default: ${URL_VARIABLE})",
    )
    parent.add_argument(
        "--admin-key",
        dest="client_admin_key",
        metavar="KEY",
        default=os.environ.get(ADMIN_KEY_VARIABLE) if defaults else unset,
        help=f"an admin key (default: ${ADMIN_KEY_VARIABLE})",
    )
    parent.add_argument(
        "--sigv4",
        action="store_true",
        default=False if defaults else unset,
        help="sign requests with SigV4 from the usual AWS credential chain and call the admin "
        "routes under /iam (IAM) instead of using an admin key",
    )
    parent.add_argument(
        "--region",
        default=None if defaults else unset,
        help="the gateway's AWS region, for --sigv4 (default: $AWS_REGION, else the AWS "
        "configuration)",
    )
    parent.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else unset,
        help="print the API's JSON instead of a table",
    )
    return parent


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def usd_amount(text: str) -> str:
    """A dollar amount, kept as text so that the API receives it exactly."""
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD")
    return str(value)


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def alias_map(text: str) -> dict[str, str]:
    """``old=new,other=replacement`` -> ``{"old": "new", "other": "replacement"}``."""
    aliases = {}
    for pair in comma_list(text):
        alias, separator, target = pair.partition("=")
        if not separator or not alias.strip() or not target.strip():
            raise argparse.ArgumentTypeError(f"{pair!r} is not REQUESTED=FORWARDED")
        aliases[alias.strip()] = target.strip()
    return aliases


def nullable(convert: Callable[[str], T]) -> Callable[[str], T | None]:
    """``none`` -> ``None`` (clear the field), anything else through ``convert``."""

    def parse(text: str) -> T | None:
        return None if text.strip().lower() == "none" else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def given(args: argparse.Namespace, fields: Mapping[str, str]) -> dict[str, Any]:
    """The request body from the options that were given: option dest -> API field."""
    return {field: getattr(args, dest) for dest, field in fields.items() if hasattr(args, dest)}
