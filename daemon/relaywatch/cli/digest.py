"""``relaywatch digest``: print or send the daily digest of one day."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import click

from relaywatch.cli.common import CliState, command, pass_state, write_out
from relaywatch.cli.parse import FIRST_DAY, LAST_DAY, parse_day
from relaywatch.store import utcnow


def _day(text: str | None, state: CliState) -> date:
    """The --date value; without one, yesterday in digest.timezone."""
    if not text:
        return (utcnow().astimezone(state.tz()) - timedelta(days=1)).date()
    return parse_day(text)


def _one_action(f: Callable[..., None]) -> Callable[..., None]:
    """Check that exactly one of --print and --send is given (a usage error, before the config is read)."""

    @functools.wraps(f)
    def wrapper(*args: Any, print_it: bool, send: bool, **kwargs: Any) -> None:
        if print_it == send:
            message = "--print and --send cannot be used together" if send else "one of --print or --send is required"
            raise click.UsageError(message, click.get_current_context())
        f(*args, print_it=print_it, send=send, **kwargs)

    return wrapper


@command("digest", "print or send the daily digest of one day")
@click.option("--date", "day_text", metavar="YYYY-MM-DD",
              help=f"the day (in digest.timezone; default yesterday), {FIRST_DAY} to {LAST_DAY}")
@click.option("--print", "print_it", is_flag=True, help="write the message (both parts) to stdout")
@click.option("--send", is_flag=True, help="send it now (once per day; recorded)")
@click.option("--to", multiple=True, metavar="ADDR",
              help="send to this address instead (repeatable; an extra copy, not recorded)")
@click.option("--force", is_flag=True, help="send even if this day's digest was already sent")
@_one_action
@pass_state
def digest_cmd(state: CliState, day_text: str | None, print_it: bool, send: bool, to: tuple[str, ...],
               force: bool) -> None:
    """Print (--print) or send (--send) the daily digest of one day: one of the two is required."""
    day = _day(day_text, state)
    if print_it:
        _print_digest(state, day, list(to))
    else:
        _send_digest(state, day, list(to), force)


def _print_digest(state: CliState, day: date, to: list[str]) -> None:
    from relaywatch.report.digest import build_content, build_message, make_message_id, printable

    config = state.config
    with state.store() as store:
        content = build_content(store, day, config.digest.timezone, send_time=config.digest.time)
    recipients = to or list(config.digest.to) or ["(no recipients configured)"]
    msg = build_message(content, config, recipients, make_message_id(day, config.digest.sender), cte="8bit")
    write_out(printable(msg))


def _send_digest(state: CliState, day: date, to: list[str], force: bool) -> None:
    from relaywatch.report.digest import send_digest

    with state.store() as store:
        result = send_digest(state.config, store, day, to=to or None, force=force)
    if result.status == "sent":
        print(f"digest for {day} sent to {', '.join(result.recipients)} (Message-ID {result.message_id})")
    elif result.status == "skipped":
        print(f"digest for {day}: {result.detail}; nothing sent")
    elif result.status == "already-sent":
        print(f"digest for {day} already {result.detail}: nothing sent (--force sends it again)")
    else:
        print(f"digest for {day} not sent now: {result.status}, {result.detail}")
