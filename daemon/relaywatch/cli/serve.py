"""``relaywatch serve``: the web view of the record (Datasette and relaywatch's pages; extra ``[web]``)."""

from __future__ import annotations

import sys

import click

from relaywatch.cli.common import CliState, command, pass_state
from relaywatch.errors import RelaywatchError


class ServeError(RelaywatchError):
    pass


@command("serve", "browse the record in a web browser (needs the [web] extra)")
@click.option("--host", metavar="HOST", help="address to listen on (default: web.host, 127.0.0.1)")
@click.option("--port", type=click.IntRange(0, 65535), metavar="PORT",
              help="port to listen on, 0 for any free one (default: web.port, 8001)")
@pass_state
def serve_cmd(state: CliState, host: str | None, port: int | None) -> None:
    """Serve the record as web pages: the latest day's most copied stories, each story's copies and
    spread timeline, each outlet's copies by week, and every table and canned query (Datasette).
    Read-only; the daemon can keep writing to the database. An older database is migrated first."""
    try:
        from relaywatch.report.web.app import serve
    except ImportError as e:
        raise ServeError(f"relaywatch serve needs the web extra: pip install 'relaywatch[web]' ({e})") from e
    with state.store():
        pass  # opening the store migrates a database from an older release
    cfg = state.config
    serve(cfg, host or cfg.web.host, cfg.web.port if port is None else port,
          announce=lambda line: print(line, file=sys.stdout, flush=True))
