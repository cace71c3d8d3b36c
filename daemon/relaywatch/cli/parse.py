"""The CLI's parsers for dates, days, counts and ids: each value bounded at the edge.

A value out of range is a ``ConfigError`` (exit 2) naming the option and the range allowed, so
nothing past the command line meets a date it cannot represent (``9999-12-31`` has no next day)
or a count SQLite cannot hold. Durations (``feeds add --interval``) go through the config
schema's ``parse_interval`` (1s to 30d).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import click

from relaywatch.config import ConfigError

# Dates the record can hold with room for a day's window in any zone and a look back of a few
# weeks (the digest's late finds): from the Unix epoch to the last day of year 9998.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
MAX_COUNT = 1_000_000  # --limit, --min-copies
MAX_ID = 2**63 - 1  # an SQLite INTEGER
DATE_HELP = "a date like 2026-11-28 or 2026-11-28T07:00"



class Bounded(click.IntRange):
    """An integer option with both ends (click's message: "'x' is not a valid integer.", or
    "0 is not in the range 1<=x<=1000000.")."""

    name = "integer"


COUNT = Bounded(1, MAX_COUNT)
ENTRY_ID = Bounded(1, MAX_ID)
WORKERS = Bounded(0, 64)


def _range(option: str) -> str:
    return f"{option} must be between {FIRST_DAY} and {LAST_DAY}"


def parse_when(text: str | None, option: str = "--since") -> datetime | None:
    """A --since/--until value (a date or date-time; UTC unless it names an offset), as UTC."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise ConfigError(f"{option} must be {DATE_HELP}: {_show(text)}") from e
    if FIRST_DAY <= dt.date() <= LAST_DAY:  # far from datetime's own ends: the zone shift below is safe
        dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        if FIRST_DAY <= dt.date() <= LAST_DAY:
            return dt
    raise ConfigError(f"{_range(option)} (UTC), not {_show(text)}")


def parse_span(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--since and --until, the first not after the second (an empty range is a mistake, said so)."""
    start, end = parse_when(since), parse_when(until, "--until")
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--since {since} is after --until {until}: no time is in that range")
    return start, end


def parse_day(text: str) -> date:
    """A --date value: one calendar day."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as e:
        raise ConfigError(f"--date must be a day like 2026-11-27: {_show(text)}") from e
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ConfigError(f"{_range('--date')}, not {_show(text)}")
    return day


def _show(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."
