"""Time periods as the table keys them: minutes, UTC days, billing months."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def minute_of(at: datetime) -> str:
    """``2026-11-26 10:04:59Z`` -> ``202611261004``."""
    return at.astimezone(UTC).strftime("%Y%m%d%H%M")


def minute_end(at: datetime) -> datetime:
    start = at.astimezone(UTC).replace(second=0, microsecond=0)
    return start + timedelta(minutes=1)


def day_of(at: datetime) -> str:
    """The UTC day: ``2026-11-26``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def month_of(at: datetime, billing_tz: tzinfo = UTC) -> str:
    """The billing month of ``at``: a calendar month in ``billing_tz`` (UTC by default)."""
    return at.astimezone(billing_tz).strftime("%Y-%m")


def month_end(at: datetime, billing_tz: tzinfo = UTC) -> datetime:
    """The start of the next billing month: when monthly caps reset."""
    at = at.astimezone(billing_tz)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return datetime(year, month, 1, tzinfo=billing_tz)


def month_of_day(day: str) -> str:
    """``2026-11-26`` -> ``2026-11``."""
    return day[:7]


def month_days(month: str) -> tuple[str, str]:
    """The first and last UTC day of a month, e.g. ``("2026-11-01", "2026-11-30")``."""
    first = date.fromisoformat(f"{month}-01")
    following = (
        date(first.year + 1, 1, 1) if first.month == 12 else first.replace(month=first.month + 1)
    )
    return first.isoformat(), (following - timedelta(days=1)).isoformat()


def month_start(month: str) -> datetime:
    """The first instant of a UTC month."""
    return datetime.fromisoformat(f"{month}-01T00:00:00+00:00")


def previous_month(month: str) -> str:
    """``2026-01`` -> ``2025-12``."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"
