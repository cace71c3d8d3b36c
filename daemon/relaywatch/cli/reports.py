"""CLI verbs for questions to the log and the digest: stories, story, outlets, search, status, digest.

Each builds the Store from the Config, calls one function of reports.py / digest.py and prints a
table (times in digest.timezone) or, with ``--json``, JSON (times in UTC).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from relaywatch.config import Config, ConfigError
from relaywatch.store import Store, utcnow


def _store(config: Config) -> Store:
    return Store(config.database.path, config.database.busy_timeout)


def _tz(config: Config) -> ZoneInfo:
    return ZoneInfo(config.digest.timezone)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def when_option(text: str | None, option: str = "--since") -> datetime | None:
    """A --since/--until value (a date or date-time; UTC unless it names a zone)."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(f"{option} must be a date like 2026-11-28 or 2026-11-28T07:00: {text!r}") from e
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _day(text: str | None, config: Config) -> date:
    if not text:
        return (utcnow().astimezone(_tz(config)) - timedelta(days=1)).date()
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(f"--date must be a day like 2026-11-27: {text!r}") from e


# -- commands ---------------------------------------------------------------------------------

def cmd_stories(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.report.questions import stories, stories_table

    if args.min_copies < 1:
        raise ConfigError("--min-copies must be at least 1")
    with _store(config) as store:
        items = stories(store, when_option(args.since), args.feed, args.min_copies, args.limit)
    if args.json:
        _print_json([s.as_dict() for s in items])
    else:
        print(stories_table(items, _tz(config)))
    return 0


def cmd_story(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.report.questions import story, story_text

    with _store(config) as store:
        s = story(store, args.id)
    if args.svg:
        from relaywatch.report.svg import story_svg

        try:
            Path(args.svg).write_text(story_svg(s), encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write {args.svg}: {e.strerror or e}") from e
    if args.json:
        _print_json(s.as_dict())
    else:
        print(story_text(s, _tz(config)))
        if args.svg:
            print(f"\ntimeline written to {args.svg}")
    return 0


def cmd_outlets(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.report.questions import outlets, outlets_table

    with _store(config) as store:
        items = outlets(store, when_option(args.since), when_option(args.until, "--until"))
    if args.json:
        _print_json([o.as_dict() for o in items])
    else:
        print(outlets_table(items))
    return 0


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.report.questions import search, search_table

    with _store(config) as store:
        hits = search(store, " ".join(args.text), args.limit, args.raw)
    if args.json:
        _print_json([h.as_dict() for h in hits])
    else:
        print(search_table(hits, _tz(config)))
    return 0


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.poll.scheduler import sync_feeds
    from relaywatch.report.questions import feed_status, status_table

    with _store(config) as store:
        sync_feeds(config, store)
        items = feed_status(store, include_ingest=args.all)
        digests = store.digests.records((utcnow() - timedelta(days=14)).date().isoformat())
    if args.json:
        _print_json({"feeds": [h.as_dict() for h in items], "digests": digests})
        return 0
    print(status_table(items, _tz(config)))
    if digests:
        from relaywatch.report.tables import table

        print()
        print(table([dict(d, recipients=", ".join(d["recipients"])) for d in digests],
                    [("day", "digest"), ("status", "status"), ("attempts", "attempts"),
                     ("sent_at", "sent (UTC)"), ("recipients", "to"), ("last_error", "last error")],
                    max_width=50))
    return 0


def cmd_digest(args: argparse.Namespace, config: Config) -> int:
    from relaywatch.report.digest import build_content, build_message, make_message_id, printable, send_digest

    day = _day(args.date, config)
    with _store(config) as store:
        if args.print:
            content = build_content(store, day, config.digest.timezone, send_time=config.digest.time)
            recipients = args.to or list(config.digest.to) or ["(no recipients configured)"]
            msg = build_message(content, config, recipients, make_message_id(day, config.digest.sender),
                                cte="8bit")
            sys.stdout.write(printable(msg))
            return 0
        result = send_digest(config, store, day, to=args.to, force=args.force)
    if result.status == "sent":
        print(f"digest for {day} sent to {', '.join(result.recipients)} (Message-ID {result.message_id})")
    elif result.status == "skipped":
        print(f"digest for {day}: {result.detail}; nothing sent")
    elif result.status == "already-sent":
        print(f"digest for {day} already {result.detail}: nothing sent (--force sends it again)")
    else:
        print(f"digest for {day} not sent now: {result.status}, {result.detail}")
    return 0


# -- parser -----------------------------------------------------------------------------------

def add_report_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the report and digest verbs on the main parser's subcommands."""
    s = sub.add_parser("stories", help="original stories with their copy counts, most copied first")
    s.add_argument("--since", help="only originals published since this date (UTC unless it has an offset)")
    s.add_argument("--feed", help="only stories from this feed or copied by it")
    s.add_argument("--min-copies", type=int, default=1, help="only stories with at least this many copies")
    s.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    s.add_argument("--json", action="store_true", help="a JSON array, one object per story")
    s.set_defaults(func=cmd_stories)

    s = sub.add_parser("story", help="one story's timeline: every copy in order (ID: its original or a copy)")
    s.add_argument("id", type=int, metavar="ID")
    s.add_argument("--svg", metavar="FILE", help="also draw the spread as an SVG timeline into FILE")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_story)

    s = sub.add_parser("outlets", help="per outlet: copies, median and p90 lag, share credited, top sources")
    s.add_argument("--since", help="only copies that appeared since this date (UTC unless it has an offset)")
    s.add_argument("--until", help="only copies that appeared before this date")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_outlets)

    s = sub.add_parser("search", help="full-text search over the entries' titles and texts")
    s.add_argument("text", nargs="+", metavar="TEXT")
    s.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    s.add_argument("--raw", action="store_true",
                   help="TEXT is an FTS5 query (AND, OR, NEAR, \"phrase\", prefix*)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("status", help="each feed's health (last poll, HTTP, failures, next poll) and digests")
    s.add_argument("--all", action="store_true", help="include feeds created by ingest")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("digest", help="print or send the daily digest of one day")
    s.add_argument("--date", metavar="YYYY-MM-DD", help="the day (in digest.timezone; default yesterday)")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--print", action="store_true", help="write the message (both parts) to stdout")
    what.add_argument("--send", action="store_true", help="send it now (once per day; recorded)")
    s.add_argument("--to", action="append", metavar="ADDR",
                   help="send to this address instead (repeatable; an extra copy, not recorded)")
    s.add_argument("--force", action="store_true", help="send even if this day's digest was already sent")
    s.set_defaults(func=cmd_digest)
