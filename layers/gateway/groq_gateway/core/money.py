"""Money: counted in integer micro-dollars (exact sums with DynamoDB's ``ADD``), shown in USD.
One rounding rule: USD becomes micro-dollars rounded up, so a cost is never under-counted.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

MICRO_USD_PER_USD = 1_000_000


def usd_to_micros(usd: Decimal | int | float) -> int:
    """``Decimal("0.0000015")`` -> ``2``; floats are taken by their decimal text."""
    amount = usd if isinstance(usd, Decimal) else Decimal(str(usd))
    return math.ceil(amount * MICRO_USD_PER_USD)


def micros_to_usd(micros: int) -> Decimal:
    """Exact: ``1_500_000`` -> ``Decimal("1.5")``."""
    return Decimal(micros) / MICRO_USD_PER_USD


def micros_to_cents(micros: int) -> Decimal:
    """For messages: USD with two decimals, half up (``1_234_567`` -> ``Decimal("1.23")``)."""
    return micros_to_usd(micros).quantize(Decimal("0.01"), ROUND_HALF_UP)
