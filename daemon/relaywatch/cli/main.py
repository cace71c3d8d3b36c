"""The command line: the root group, its global options, and ``main()``.

Each command (in daemon.py, feeds.py, boiler.py, reports.py, digest.py, config.py) builds Config and Store,
calls one library function, prints. ``main()`` turns every failure into one line on stderr and
an exit code: 0 all well, 1 a runtime failure (a RelaywatchError), 2 a usage or configuration
error (click's usage errors, ConfigError). No traceback reaches the user; ``-vv`` logs it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from relaywatch import __version__
from relaywatch.cli import boiler, config, daemon, digest, feeds, relabel, reports, serve, spark
from relaywatch.cli.common import CONTEXT_SETTINGS, EXIT_CODES, CliState, OrderedGroup, config_option
from relaywatch.errors import RelaywatchError
from relaywatch.runtime import tune_gc

log = logging.getLogger("relaywatch.cli")

LONG_JOBS = ("run", "poll", "ingest", "demo")  # commands that store entries: the interpreter is tuned for them


class RootGroup(OrderedGroup):
    """The root group: a broken pipe (``relaywatch reposts | head``) ends the command quietly."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            return 0


@click.group(cls=RootGroup, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES)
@config_option
@click.option("--verbose", "-v", count=True, help="more log output (-vv: debug)")
@click.option("--quiet", "-q", is_flag=True, help="only errors in the log, no progress bar")
@click.version_option(__version__, "--version", prog_name="relaywatch", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """Find and record who republished which story.

    Global options go before the command: relaywatch -c relaywatch.toml reposts --json.
    "relaywatch COMMAND --help" tells more about each command.
    """
    ctx.obj = CliState(config_path, verbose, quiet)
    setup_logging(verbose, quiet, ctx.invoked_subcommand)
    if ctx.invoked_subcommand in LONG_JOBS:
        tune_gc()


def setup_logging(verbose: int, quiet: bool, command: str | None) -> None:
    """Log to stderr: errors with -q, debug with -vv, info with -v or for the daemon, else warnings."""
    if quiet:
        level = logging.ERROR
    elif verbose > 1:
        level = logging.DEBUG
    elif verbose or command == "run":
        level = logging.INFO
    else:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


for _command in (*daemon.COMMANDS, *spark.COMMANDS, feeds.feeds, *reports.COMMANDS, digest.digest_cmd,
                 serve.serve_cmd, relabel.relabel_cmd, config.config_cmd):
    cli.add_command(_command)
feeds.feeds.add_command(boiler.boilerplate_cmd)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    try:
        result = cli.main(list(argv) if argv is not None else None, prog_name="relaywatch", standalone_mode=False)
    except click.ClickException as e:  # usage errors: exit 2
        e.show()
        return e.exit_code
    except click.Abort:  # Ctrl-C
        return 130
    except RelaywatchError as e:
        print(f"relaywatch: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: one line, the traceback only in the debug log
        log.debug("unexpected error", exc_info=True)
        print(f"relaywatch: unexpected error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
