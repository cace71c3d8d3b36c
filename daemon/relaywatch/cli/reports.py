"""Questions to the log: reposts, stories, story, outlets, search, status.

Each opens the Store from the Config, calls one function of report/ and prints a table (times in
digest.timezone) or, with ``--json``, JSON (times in UTC).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from relaywatch.cli.common import (
    CliState,
    all_option,
    command,
    json_option,
    limit_option,
    pass_state,
    print_json,
    since_option,
)
from relaywatch.cli.parse import COUNT, ENTRY_ID, parse_span, parse_when
from relaywatch.config import ConfigError
from relaywatch.store import utcnow


@command("reposts", "list the reposts found")
@json_option("an array, one object per link")
@since_option("copies first seen")
@click.option("--feed", metavar="NAME", help="only links where this feed is the copy or the original")
@limit_option(None)
@pass_state
def reposts_cmd(state: CliState, as_json: bool, since: str | None, feed: str | None, limit: int | None) -> None:
    """Every repost found, grouped by original, copies in the order they appeared: the copy, its
    original, how much of it was taken, how late and with what credit."""
    from relaywatch.report.tables import RepostQuery, reposts, reposts_table

    query = RepostQuery(parse_when(since), feed, limit)
    with state.store() as store:
        rows = reposts(store, query)
    if as_json:
        print_json(rows)
    else:
        print(reposts_table(rows))


@command("stories", "original stories with their copy counts, most copied first")
@since_option("originals published")
@click.option("--feed", metavar="NAME", help="only stories from this feed or copied by it")
@click.option("--min-copies", type=COUNT, default=1, metavar="N",
              help="only stories with at least this many copies (1 to 1000000)")
@limit_option(50)
@json_option("an array, one object per story")
@pass_state
def stories_cmd(state: CliState, since: str | None, feed: str | None, min_copies: int, limit: int,
                as_json: bool) -> None:
    """Original stories with their copy counts, most copied first."""
    from relaywatch.report.questions import stories, stories_table

    start = parse_when(since)
    with state.store() as store:
        items = stories(store, start, feed, min_copies, limit)
    if as_json:
        print_json([s.as_dict() for s in items])
    else:
        print(stories_table(items, state.tz()))


@command("story", "one story's timeline: every copy in order (ID: its original or a copy)")
@click.argument("story_id", type=ENTRY_ID, metavar="ID")
@click.option("--svg", metavar="FILE", help="also draw the spread as an SVG timeline into FILE")
@json_option()
@pass_state
def story_cmd(state: CliState, story_id: int, svg: str | None, as_json: bool) -> None:
    """One story's timeline: its original and every copy in order. ID is the entry id of the
    original or of any copy."""
    from relaywatch.report.questions import story, story_text

    with state.store() as store:
        s = story(store, story_id)
    if svg:
        from relaywatch.report.svg import story_svg

        try:
            Path(svg).write_text(story_svg(s), encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write {svg}: {e.strerror or e}") from e
    if as_json:
        print_json(s.as_dict())
        return
    print(story_text(s, state.tz()))
    if svg:
        print(f"\ntimeline written to {svg}")


@command("outlets", "per outlet: copies, median and p90 lag, share credited, top sources")
@since_option("copies that appeared")
@click.option("--until", metavar="DATE", help="only copies that appeared before this date (not before --since)")
@json_option()
@pass_state
def outlets_cmd(state: CliState, since: str | None, until: str | None, as_json: bool) -> None:
    """Per outlet: how many copies, their median and p90 lag, the share credited, top sources."""
    from relaywatch.report.questions import outlets, outlets_table

    start, end = parse_span(since, until)
    with state.store() as store:
        items = outlets(store, start, end)
    if as_json:
        print_json([o.as_dict() for o in items])
    else:
        print(outlets_table(items))


@command("search", "full-text search over the entries' titles and texts")
@click.argument("text", nargs=-1, required=True, metavar="TEXT...")
@limit_option(20)
@click.option("--fts", is_flag=True, help='TEXT is an FTS5 query (AND, OR, NOT, NEAR, "phrase", prefix*)')
@json_option()
@pass_state
def search_cmd(state: CliState, text: tuple[str, ...], limit: int, fts: bool, as_json: bool) -> None:
    """Full-text search over the entries' titles and texts: entries holding every word of TEXT, as
    words (quotes, *, AND, OR are searched for as they are, unless --fts). In Chinese, Japanese,
    Korean, Thai and other scripts written without spaces, a word is found inside longer text (2
    characters or more)."""
    from relaywatch.report.lookup import search, search_table
    from relaywatch.store.entries import search_terms

    words = " ".join(text)
    if not (words.strip() if fts else search_terms(words)):
        raise ConfigError(f"search needs some words (letters or digits), not {words!r}")
    with state.store() as store:
        hits = search(store, words, limit, fts)
    if as_json:
        print_json([h.as_dict() for h in hits])
    else:
        print(search_table(hits, state.tz()))


@command("status", "each feed's health (last poll, HTTP, failures, next poll) and digests")
@all_option
@json_option()
@pass_state
def status_cmd(state: CliState, include_all: bool, as_json: bool) -> None:
    """Each feed's health (last poll, HTTP status, failures in a row, next poll) and the digests
    of the last 14 days."""
    from relaywatch.poll.scheduler import sync_feeds
    from relaywatch.report.lookup import feed_status, status_table

    with state.store() as store:
        sync_feeds(state.config, store)
        items = feed_status(store, include_ingest=include_all)
        digests = store.digests.records((utcnow() - timedelta(days=14)).date().isoformat())
    if as_json:
        print_json({"feeds": [h.as_dict() for h in items], "digests": digests})
        return
    print(status_table(items, state.tz()))
    if digests:
        from relaywatch.report.tables import table

        print()
        print(table([dict(d, recipients=", ".join(d["recipients"])) for d in digests],
                    [("day", "digest"), ("status", "status"), ("attempts", "attempts"),
                     ("sent_at", "sent (UTC)"), ("recipients", "to"), ("last_error", "last error")],
                    max_width=50))


COMMANDS: tuple[click.Command, ...] = (reposts_cmd, stories_cmd, story_cmd, outlets_cmd, search_cmd, status_cmd)
