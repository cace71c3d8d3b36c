"""What every command shares: the options, the state built from the global options, printing.

As in sqlite-utils, an option used by several commands is one decorator here (``json_option``,
``since_option``, ...), so its name, flags and help read the same everywhere. ``CliState`` holds
the global options; a command asks it for the Config (loaded once) and opens the Store from it.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from relaywatch.cli.parse import COUNT
from relaywatch.config import ROLES, Config, find_config, load_config
from relaywatch.store import Store

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

EXIT_CODES = """\b
Exit status:
  0  all well
  1  a runtime failure (poll: a feed failed, or a poll could not be stored)
  2  a usage or configuration error
"""
CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "terminal_width": 100,  # fixed, so --help reads the same in every terminal and in docs/cli.md
    "max_content_width": 100,
}


@dataclass
class CliState:
    """The global options, and the Config they name (loaded on first use)."""

    config_path: str | None = None
    verbose: int = 0
    quiet: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(find_config(self.config_path))
        return self._config

    def store(self) -> Store:
        """A new Store on the configured database (use it in a ``with``)."""
        return Store(self.config.database.path, self.config.database.busy_timeout)

    def tz(self) -> ZoneInfo:
        """The zone tables show times in (digest.timezone)."""
        return ZoneInfo(self.config.digest.timezone)


def pass_state(f: Callable[..., R]) -> Callable[..., R]:
    """Pass the CliState as the first argument, its Config loaded first: a bad config file is
    reported before the command reads any other file or opens the database."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        state = click.get_current_context().ensure_object(CliState)
        state.config  # noqa: B018 - loads it
        return f(state, *args, **kwargs)

    return wrapper


class OrderedGroup(click.Group):
    """A group that lists its commands in the order they were added, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def command(name: str, short_help: str, group: click.Group | None = None) -> Callable[[F], click.Command]:
    """A command (of ``group``, if given) with the short help its group lists and the exit codes as epilog."""
    make = group.command if group is not None else click.command
    return make(name, short_help=short_help, epilog=EXIT_CODES)


# -- shared options ---------------------------------------------------------------------------

def config_option(f: F) -> F:
    return click.option("--config", "-c", "config_path", envvar="RELAYWATCH_CONFIG", metavar="FILE",
                        help="TOML configuration file (default: $RELAYWATCH_CONFIG, else "
                             "~/.config/relaywatch/relaywatch.toml, else /etc/relaywatch/relaywatch.toml)")(f)


def json_option(what: str | None = None) -> Callable[[F], F]:
    """``--json``; ``what`` says what the output holds."""
    text = "print JSON instead of a table (times in UTC)" + (f": {what}" if what else "")
    return click.option("--json", "as_json", is_flag=True, help=text)


def all_option(f: F) -> F:
    return click.option("--all", "include_all", is_flag=True, help="include feeds created by ingest")(f)


def role_option(help_text: str | None = None) -> Callable[[F], F]:
    return click.option("--role", type=click.Choice(ROLES), default="outlet", show_default=True,
                        help=help_text or "the feed's role")


def limit_option(default: int | None) -> Callable[[F], F]:
    text = "at most this many, 1 to 1000000" + (f" (default {default})" if default is not None else "")
    return click.option("--limit", type=COUNT, default=default, metavar="N", help=text)


def since_option(what: str) -> Callable[[F], F]:
    """``--since DATE``, kept as text: ``parse.parse_when`` parses it when the command runs."""
    return click.option("--since", metavar="DATE", help=f"only {what} since this date (UTC unless it has an offset)")


# -- parsing and printing ---------------------------------------------------------------------

def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def outcome_line(name: str, o: Any) -> str:
    """One poll's outcome: ``name: HTTP 200, 2 new, 0 updated, 0 links``."""
    status = o.http_status if o.http_status is not None else "-"
    text = f"{name}: HTTP {status}, {o.new_entries} new, {o.updated_entries} updated, {o.links} links"
    if o.error:
        text += f" ({o.error})"
    return text


def write_out(text: str) -> None:
    """Write text to stdout as it is (no newline added)."""
    sys.stdout.write(text)
