"""Questions put to the log about its entries and feeds: full-text search and feed health."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from relaywatch.report.questions import ACTIVE, SILENT_AFTER, ReportError, _dict, local_time
from relaywatch.report.tables import format_lag, table
from relaywatch.store import Store, StoreError, from_db, utcnow
from relaywatch.store.entries import search_terms

# -- search -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchHit:
    id: int
    feed: str
    title: str
    url: str
    published: datetime | None
    snippet: str
    original_id: int | None   # set when the entry is a copy
    copies: int               # copies of it, when it is an original

    def as_dict(self) -> dict[str, Any]:
        return _dict(self)


def search(store: Store, text: str, limit: int = 20, fts: bool = False) -> list[SearchHit]:
    """Full-text search over entries' titles and texts (SQLite FTS5), best match first: the words
    of ``text`` as words (substrings in scripts written without spaces), or with ``fts`` an FTS5
    query."""
    if not (text.strip() if fts else search_terms(text)):
        raise ReportError(f"search needs some words (letters or digits), not {text!r}")
    with contextlib.suppress(StoreError):  # entries stored since the last catch-up (read-only: as is)
        store.entries.index_text()
    try:
        rows = store.entries.search(text, limit, fts)
    except StoreError as e:
        raise ReportError(f"cannot search for {text!r}: {e}") from e
    return [SearchHit(r["id"], r["feed"], r["title"], r["url"], from_db(r["published"]), r["snippet"] or "",
                      r["original_id"], r["copies"]) for r in rows]


def search_table(items: list[SearchHit], tz: ZoneInfo) -> str:
    rows = [{"id": h.id, "feed": h.feed, "published": local_time(h.published, tz),
             "story": f"copy of {h.original_id}" if h.original_id else
             (f"{h.copies} copies" if h.copies else ""),
             "title": h.title, "snippet": h.snippet} for h in items]
    return table(rows, [("id", "id"), ("feed", "feed"), ("published", "published"), ("story", "story"),
                        ("title", "title"), ("snippet", "match")], max_width=64)


# -- feed health ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedHealth:
    name: str
    role: str
    url: str
    status: str
    source: str
    last_poll: datetime | None
    http_status: int | None
    failures: int
    last_error: str | None
    next_poll: datetime | None
    entries: int
    last_new_entry: datetime | None
    problem: str | None       # "failing: ...", "gone: ...", "silent for 3d 2h"; None when healthy

    def as_dict(self) -> dict[str, Any]:
        return _dict(self)


def _problem(r: dict[str, Any], now: datetime) -> str | None:
    if r["source"] == "ingest" or r["status"] not in (*ACTIVE, "gone"):
        return None
    if r["status"] == "gone":
        return f"gone: {r['last_error'] or 'HTTP 410'}"
    if r["failures"]:
        return f"failing: {r['failures']} failed polls, last: {r['last_error'] or 'unknown error'}"
    last_poll = from_db(r["last_poll"])
    if last_poll is None:
        return None
    silent_after = max(SILENT_AFTER, timedelta(seconds=10 * r["interval_s"]))
    newest = from_db(r["last_new_entry"])
    if newest is None:
        return "silent: no entry yet" if r["last_poll"] and r["last_ok_poll"] else None
    if now - newest >= silent_after:
        return f"silent for {format_lag((now - newest).total_seconds()).lstrip('+')}"
    return None


def feed_status(store: Store, now: datetime | None = None, include_ingest: bool = False) -> list[FeedHealth]:
    """Each feed's health: last poll, HTTP status, failures, next poll, and what is wrong, if anything."""
    now = now or utcnow()
    out = []
    for r in store.reports.feed_health_rows():
        if r["source"] == "ingest" and not include_ingest:
            continue
        out.append(FeedHealth(r["name"], r["role"], r["url"], r["status"], r["source"],
                              from_db(r["last_poll"]), r["last_status"], r["failures"], r["last_error"],
                              from_db(r["next_poll"]),
                              r["entries"], from_db(r["last_new_entry"]), _problem(r, now)))
    return out


def status_table(items: list[FeedHealth], tz: ZoneInfo) -> str:
    rows = [{"name": h.name, "role": h.role, "status": h.status, "last": local_time(h.last_poll, tz),
             "http": h.http_status, "failures": h.failures, "next": local_time(h.next_poll, tz),
             "entries": h.entries, "newest": local_time(h.last_new_entry, tz), "problem": h.problem or ""}
            for h in items]
    return table(rows, [("name", "feed"), ("role", "role"), ("status", "status"), ("last", "last poll"),
                        ("http", "http"), ("failures", "failures"), ("next", "next poll"),
                        ("entries", "entries"), ("newest", "newest entry"), ("problem", "problem")],
                 max_width=60)
