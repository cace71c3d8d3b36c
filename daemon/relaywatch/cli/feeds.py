"""``relaywatch feeds``: list, add, remove, import or export the feeds."""

from __future__ import annotations

import click

from relaywatch.cli.common import (
    EXIT_CODES,
    CliState,
    OrderedGroup,
    all_option,
    command,
    json_option,
    pass_state,
    print_json,
    role_option,
    write_out,
)
from relaywatch.config import ConfigError, make_feed
from relaywatch.errors import RelaywatchError


@click.group("feeds", cls=OrderedGroup, short_help="list, add, remove, import or export feeds", epilog=EXIT_CODES)
def feeds() -> None:
    """List, add, remove, import or export feeds. Feeds of the config file are edited there; the
    others (added here, imported, or created by ingest) are kept in the database."""


@command("list", "the feeds and their status", group=feeds)
@json_option("one object per feed")
@all_option
@pass_state
def list_cmd(state: CliState, as_json: bool, include_all: bool) -> None:
    """The feeds (of the config file and of the database) and their status."""
    from relaywatch.poll.scheduler import sync_feeds
    from relaywatch.report.tables import table

    with state.store() as store:
        sync_feeds(state.config, store)
        found = [f for f in store.feeds.list() if f.source != "ingest" or include_all]
    rows = [{"name": f.name, "role": f.role, "url": f.url, "interval": f"{f.interval // 60}m",
             "status": f.status, "source": f.source, "credit": list(f.credit)} for f in found]
    if as_json:
        print_json(rows)
        return
    print(table([dict(r, credit=", ".join(r["credit"])) for r in rows],
                [("name", "name"), ("role", "role"), ("interval", "interval"), ("status", "status"),
                 ("source", "source"), ("credit", "credit"), ("url", "url")], max_width=60))


@command("add", "add a feed (kept in the database)", group=feeds)
@click.argument("name")
@click.argument("url")
@role_option()
@click.option("--interval", metavar="DURATION", help="e.g. 15m (default from the config's [defaults])")
@click.option("--credit", multiple=True, metavar="NAME", help="a name that credits this feed (repeatable)")
@pass_state
def add_cmd(state: CliState, name: str, url: str, role: str, interval: str | None, credit: tuple[str, ...]) -> None:
    """Add the feed NAME at URL to the database (or update it, if it is there already)."""
    config = state.config
    try:
        feed = make_feed(name, url, role, interval, credit, None, config.defaults)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    with state.store() as store:
        if any(f.name == feed.name for f in config.feeds):
            raise ConfigError(f"feed '{feed.name}' is defined in {config.source}: edit it there")
        existed = store.feeds.by_name(feed.name) is not None
        store.feeds.upsert(feed.name, feed.url, feed.role, feed.credit, feed.interval, "cli")
    print(f"{'updated' if existed else 'added'} feed {feed.name} ({feed.role}) {feed.url}")


@command("remove", "stop polling a feed (its records stay)", group=feeds)
@click.argument("name")
@pass_state
def remove_cmd(state: CliState, name: str) -> None:
    """Stop polling the feed NAME; its entries and links are kept."""
    with state.store() as store:
        if not store.feeds.remove(name):
            raise RelaywatchError(f"no feed named {name}")
    print(f"removed feed {name} (its entries and links are kept)")


@command("import-opml", "add the feeds of an OPML file", group=feeds)
@click.argument("file")
@role_option("role of feeds whose outline names none")
@pass_state
def import_cmd(state: CliState, file: str, role: str) -> None:
    """Add (or update) the feeds of the OPML FILE in the database."""
    from relaywatch.poll.opml import read_opml

    found = read_opml(file, role)
    with state.store() as store:
        added = 0
        for f in found:
            if store.feeds.by_name(f.name) is None:
                added += 1
            try:
                feed = make_feed(f.name, f.url, f.role, None, (), None, state.config.defaults)
            except ValueError as e:
                raise ConfigError(f"{file}: {e}") from e
            store.feeds.upsert(feed.name, feed.url, feed.role, (), feed.interval, "opml")
    print(f"imported {len(found)} feeds from {file} ({added} new)")


@command("export-opml", "print the feed list as OPML", group=feeds)
@pass_state
def export_cmd(state: CliState) -> None:
    """Print every feed (of the config file and of the database) as an OPML document."""
    from relaywatch.poll.opml import write_opml
    from relaywatch.poll.scheduler import sync_feeds

    with state.store() as store:
        found = sync_feeds(state.config, store)
    write_out(write_opml(found))
