"""The command line: each command builds Config and Store, calls one library function, prints.

A RelaywatchError becomes one line on stderr ("relaywatch: ...") and its exit code (2 for
configuration and usage errors, 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from relaywatch import __version__
from relaywatch.cli.reports import add_report_commands, when_option
from relaywatch.config import Config, ConfigError, describe, load_config, make_feed
from relaywatch.errors import RelaywatchError
from relaywatch.runtime import tune_gc
from relaywatch.store import Store

Handler = Callable[[argparse.Namespace, Config], int]
LONG_JOBS = ("run", "poll", "ingest", "demo")  # commands that store entries: the interpreter is tuned for them


def _store(config: Config) -> Store:
    return Store(config.database.path, config.database.busy_timeout)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# -- commands ---------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.scheduler import Daemon
    from relaywatch.report.digest import add_digest_job

    with _store(config) as store:
        daemon = Daemon(config, store)
        daemon.extra_jobs.append(lambda sched: add_digest_job(sched, config, store))
        daemon.run_forever()
    return 0


def _outcome_line(name: str, o: Any) -> str:
    status = o.http_status if o.http_status is not None else "-"
    text = f"{name}: HTTP {status}, {o.new_entries} new, {o.updated_entries} updated, {o.links} links"
    if o.error:
        text += f" ({o.error})"
    return text


def cmd_poll(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.scheduler import poll_once

    with _store(config) as store:
        results = poll_once(config, store, only_due=not args.once, names=args.feed or None)
    for feed, outcome in results:
        print(_outcome_line(feed.name, outcome))
    if not results:
        print("no feed is due (use --once to poll every feed now)")
    return 0


def cmd_reposts(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.report.tables import RepostQuery, reposts, reposts_table

    with _store(config) as store:
        rows = reposts(store, RepostQuery(when_option(args.since), args.feed, args.limit))
    if args.json:
        _print_json(rows)
    else:
        print(reposts_table(rows))
    return 0


def cmd_feeds_list(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.scheduler import sync_feeds
    from relaywatch.report.tables import table

    with _store(config) as store:
        sync_feeds(config, store)
        feeds = [f for f in store.feeds.list() if f.source != "ingest" or args.all]
    rows = [{"name": f.name, "role": f.role, "url": f.url, "interval": f"{f.interval // 60}m",
             "status": f.status, "source": f.source, "credit": list(f.credit)} for f in feeds]
    if args.json:
        _print_json(rows)
    else:
        print(table([dict(r, credit=", ".join(r["credit"])) for r in rows],
                    [("name", "name"), ("role", "role"), ("interval", "interval"), ("status", "status"),
                     ("source", "source"), ("credit", "credit"), ("url", "url")], max_width=60))
    return 0


def cmd_feeds_add(args: argparse.Namespace, config: Config) -> int:
    try:
        feed = make_feed(args.name, args.url, args.role, args.interval, args.credit or (), None, config.defaults)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    with _store(config) as store:
        if any(f.name == feed.name for f in config.feeds):
            raise ConfigError(f"feed '{feed.name}' is defined in {config.source}: edit it there")
        existed = store.feeds.by_name(feed.name) is not None
        store.feeds.upsert(feed.name, feed.url, feed.role, feed.credit, feed.interval, "cli")
    print(f"{'updated' if existed else 'added'} feed {feed.name} ({feed.role}) {feed.url}")
    return 0


def cmd_feeds_remove(args: argparse.Namespace, config: Config) -> int:
    with _store(config) as store:
        if not store.feeds.remove(args.name):
            raise RelaywatchError(f"no feed named {args.name}")
    print(f"removed feed {args.name} (its entries and links are kept)")
    return 0


def cmd_feeds_import(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.opml import read_opml

    found = read_opml(args.file, args.role)
    with _store(config) as store:
        added = 0
        for f in found:
            if store.feeds.by_name(f.name) is None:
                added += 1
            try:
                feed = make_feed(f.name, f.url, f.role, None, (), None, config.defaults)
            except ValueError as e:
                raise ConfigError(f"{args.file}: {e}") from e
            store.feeds.upsert(feed.name, feed.url, feed.role, (), feed.interval, "opml")
    print(f"imported {len(found)} feeds from {args.file} ({added} new)")
    return 0


def cmd_feeds_export(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.opml import write_opml
    from relaywatch.poll.scheduler import sync_feeds

    with _store(config) as store:
        feeds = sync_feeds(config, store)
    sys.stdout.write(write_opml(feeds))
    return 0


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.archive import default_workers, ingest_file, load_feed_specs

    specs = load_feed_specs(args.feeds) if args.feeds else {}
    progress = None
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        total = None
        if Path(args.file).is_file():
            with Path(args.file).open(encoding="utf-8", errors="replace") as f:
                total = sum(1 for line in f if line.strip())
        bar = tqdm(total=total, unit="entries", desc="ingest", file=sys.stderr)
        progress = bar.update
    try:
        with _store(config) as store:
            workers = default_workers() if args.workers is None else args.workers
            report = ingest_file(store, args.file, specs, workers=workers, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    c = report.counts
    print(f"{report.lines} lines: {c.new} new entries, {c.updated} updated, {c.unchanged} unchanged, "
          f"{c.links} links, {report.bad} skipped")
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.demo import run_demo
    from relaywatch.report.tables import RepostQuery, reposts, reposts_table

    with _store(config) as store:
        results = run_demo(config, store)
        rows = reposts(store, RepostQuery())
    for feed, outcome in results:
        print(_outcome_line(feed.name, outcome))
    print()
    print(f"{len(rows)} reposts recorded in {config.database.path}:")
    print(reposts_table(rows))
    return 0


def cmd_config(args: argparse.Namespace, config: Config) -> int:
    for key, value, help_text in describe(config):
        print(f"{key} = {value}    # {help_text}")
    print(f"feeds: {len(config.feeds)} configured")
    return 0


# -- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relaywatch", description="Find and record who republished which story.")
    p.add_argument("--config", "-c", default=os.environ.get("RELAYWATCH_CONFIG"),
                   help="TOML configuration file (default: $RELAYWATCH_CONFIG)")
    p.add_argument("--verbose", "-v", action="count", default=0, help="more log output")
    p.add_argument("--quiet", "-q", action="store_true", help="only errors in the log, no progress bar")
    p.add_argument("--version", action="version", version=f"relaywatch {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("run", help="run the daemon in the foreground (systemd runs this)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("poll", help="poll the feeds that are due (--once: every feed, now) and exit")
    s.add_argument("--once", action="store_true", help="poll every active feed now")
    s.add_argument("--feed", action="append", help="only this feed (repeatable)")
    s.set_defaults(func=cmd_poll)

    s = sub.add_parser("reposts", help="list the reposts found")
    s.add_argument("--json", action="store_true", help="a JSON array, one object per link")
    s.add_argument("--since", help="only copies first seen since this date (UTC)")
    s.add_argument("--feed", help="only links where this feed is the copy or the original")
    s.add_argument("--limit", type=int, help="at most this many")
    s.set_defaults(func=cmd_reposts)

    feeds = sub.add_parser("feeds", help="list, add, remove, import or export feeds")
    fsub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    s = fsub.add_parser("list", help="the feeds and their status")
    s.add_argument("--json", action="store_true")
    s.add_argument("--all", action="store_true", help="include feeds created by ingest")
    s.set_defaults(func=cmd_feeds_list)
    s = fsub.add_parser("add", help="add a feed (kept in the database)")
    s.add_argument("name")
    s.add_argument("url")
    s.add_argument("--role", choices=["wire", "outlet", "relay"], default="outlet")
    s.add_argument("--interval", help="e.g. 15m (default from the config's [defaults])")
    s.add_argument("--credit", action="append", help="a name that credits this feed (repeatable)")
    s.set_defaults(func=cmd_feeds_add)
    s = fsub.add_parser("remove", help="stop polling a feed (its records stay)")
    s.add_argument("name")
    s.set_defaults(func=cmd_feeds_remove)
    s = fsub.add_parser("import-opml", help="add the feeds of an OPML file")
    s.add_argument("file")
    s.add_argument("--role", choices=["wire", "outlet", "relay"], default="outlet",
                   help="role of feeds whose outline names none")
    s.set_defaults(func=cmd_feeds_import)
    s = fsub.add_parser("export-opml", help="print the feed list as OPML")
    s.set_defaults(func=cmd_feeds_export)

    s = sub.add_parser("ingest", help="backfill entries from a JSONL archive")
    s.add_argument("file")
    s.add_argument("--feeds", help="FEEDS.json: a list of {name, role, credit}")
    s.add_argument("--workers", type=int, default=None,
                   help="processes preparing text, beside the one matching and writing (default: cores - 1, at most 2)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("demo", help="serve the bundled sample feeds on 127.0.0.1, poll them, show the reposts")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("config", help="show every setting (secrets masked)")
    s.set_defaults(func=cmd_config)

    add_report_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else
                                              logging.INFO if args.verbose or args.command == "run"
                                              else logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    handler: Handler = args.func
    if args.command in LONG_JOBS:
        tune_gc()
    try:
        config = load_config(args.config)
        return handler(args, config)
    except RelaywatchError as e:
        print(f"relaywatch: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
