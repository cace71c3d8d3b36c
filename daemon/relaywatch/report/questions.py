"""Questions put to the log: stories, one story's timeline, outlets (search and feed health: ``lookup``).

Each function reads the store and returns dataclasses (``as_dict`` gives JSON-ready dicts with
UTC ISO times); the ``*_table`` functions render them as plain-text tables with local times.
The digest (``report.digest``) is built from the same functions.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from relaywatch.errors import RelaywatchError
from relaywatch.report.tables import format_lag, kind_label, table, taken_label
from relaywatch.store import Store, StoreError, from_db, utcnow

# a feed polled without error that has brought no new entry for this long (and for ten of its
# intervals) has gone silent
SILENT_AFTER = timedelta(hours=48)
ACTIVE = ("new", "ok", "error")


class ReportError(RelaywatchError):
    pass


def _dict(obj: Any) -> dict[str, Any]:
    out = {}
    for k, v in asdict(obj).items():
        out[k] = v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v
    return out


def local_time(dt: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time shown in the reader's zone."""
    return "" if dt is None else dt.astimezone(tz).strftime(fmt)


def percent(share: float | None) -> str:
    return "" if share is None else f"{round(share * 100)}%"


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


# -- copies and stories -----------------------------------------------------------------------

@dataclass(frozen=True)
class Copy:
    """One copy of a story, with the chain of feeds its text went through."""

    copy_id: int
    feed: str
    title: str
    url: str
    when: datetime
    lag_seconds: float
    kind: str
    coverage: float
    credited: bool
    via_id: int | None
    via_feed: str | None
    chain: tuple[str, ...]       # original feed, ..., via feed, this feed (only when via is set)
    anomaly: str | None
    original_id: int
    original_feed: str
    original_title: str
    added_words: int = 0             # words the copy's page added around or inside the original's text
    copy_share: float | None = None  # share of the copy's words from the original
    copy_sentences: int | None = None
    taken_sentences: int | None = None  # of the copy's sentences, those from the original

    @property
    def lag(self) -> str:
        return format_lag(self.lag_seconds)

    @property
    def kind_added(self) -> str:
        """The kind with the words the page added: "verbatim +42 words"."""
        return kind_label(self.kind, self.added_words)

    @property
    def taken(self) -> str:
        """How much of the copy comes from the original: "6/7 sentences, 85%"."""
        return taken_label(self.copy_share, self.copy_sentences, self.taken_sentences)

    def as_dict(self) -> dict[str, Any]:
        return dict(_dict(self), lag=self.lag, chain=list(self.chain))


@dataclass(frozen=True)
class Story:
    """An original and (some of) its copies, in the order they appeared."""

    id: int
    title: str
    url: str
    feed: str
    published: datetime
    copies: tuple[Copy, ...] = ()

    @property
    def credited(self) -> int:
        return sum(c.credited for c in self.copies)

    def as_dict(self) -> dict[str, Any]:
        d = _dict(self)
        d["copies"] = [c.as_dict() for c in self.copies]
        return d


def _copies(rows: list[dict[str, Any]], store: Store) -> list[Copy]:
    """Copies from ``Store.reports.copy_rows`` rows, with their via chains."""
    via = {r["copy_id"]: (r["via_id"], r["copy_feed"]) for r in rows}
    missing = {r["via_id"] for r in rows if r["via_id"] is not None and r["via_id"] not in via}
    for vid in missing:  # a via outside the rows asked for (another day): read its link
        link = store.links.of(vid)
        entry = store.entries.get_many([vid]).get(vid)
        if entry is not None:
            via[vid] = (link.via_id if link else None, entry.feed_name)
    out = []
    for r in rows:
        chain: tuple[str, ...] = ()
        if r["via_id"] is not None:
            names, seen, cur = [r["copy_feed"]], {r["copy_id"]}, r["via_id"]
            while cur is not None and cur in via and cur not in seen:
                seen.add(cur)
                nxt, name = via[cur]
                names.append(name)
                cur = nxt
            names.append(r["original_feed"])
            chain = tuple(reversed(names))
        out.append(Copy(copy_id=r["copy_id"], feed=r["copy_feed"], title=r["copy_title"], url=r["copy_url"],
                        when=from_db(r["copy_when"]) or utcnow(), lag_seconds=r["lag_seconds"],
                        kind=r["kind"],
                        coverage=r["coverage"], credited=bool(r["credited"]), via_id=r["via_id"],
                        via_feed=r["via_feed"], chain=chain, anomaly=r["anomaly"],
                        original_id=r["original_id"], original_feed=r["original_feed"],
                        original_title=r["original_title"], added_words=r["added_words"] or 0,
                        copy_share=r["copy_share"], copy_sentences=r["copy_sentences"],
                        taken_sentences=r["taken_sentences"]))
    return out


def copies_between(store: Store, start: datetime, end: datetime) -> list[Story]:
    """Stories with the copies that appeared in [start, end), most copied first."""
    rows = store.reports.copy_rows(start=start, end=end)
    stories: dict[int, list[Copy]] = {}
    for c in _copies(rows, store):
        stories.setdefault(c.original_id, []).append(c)
    originals = store.entries.get_many(stories)
    out = []
    for oid, copies in stories.items():
        o = originals[oid]
        copies.sort(key=lambda c: (c.when, c.copy_id))
        out.append(Story(oid, o.title, o.url, o.feed_name, o.when, tuple(copies)))
    out.sort(key=lambda s: (-len(s.copies), s.published, s.id))
    return out


def found_late(store: Store, before: datetime, detected_from: datetime, detected_to: datetime) -> list[Copy]:
    """Copies that appeared before ``before`` but were found only in [detected_from, detected_to):
    a feed polled late, a backfill, a relay that dated its post in the past."""
    rows = store.reports.copy_rows(end=before, detected=(detected_from, detected_to))
    return sorted(_copies(rows, store), key=lambda c: (c.when, c.copy_id))


@dataclass(frozen=True)
class StorySummary:
    id: int
    title: str
    url: str
    feed: str
    published: datetime
    copies: int
    credited: int
    outlets: int
    first_lag_seconds: float
    last_copy: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return dict(_dict(self), first_lag=format_lag(self.first_lag_seconds))


def stories(store: Store, since: datetime | None = None, feed: str | None = None, min_copies: int = 1,
            limit: int | None = None) -> list[StorySummary]:
    """Originals with their copy counts, most copied first (``since``: originals since then)."""
    rows = store.reports.story_rows(since, feed, min_copies, limit)
    return [StorySummary(r["id"], r["title"], r["url"], r["feed"], from_db(r["published"]) or utcnow(),
                         r["copies"], r["credited"], r["outlets"], r["first_lag"], from_db(r["last_copy"]))
            for r in rows]


def story(store: Store, entry_id: int) -> Story:
    """One story's timeline: the original and every copy in order. A copy's id finds its story."""
    oid = store.reports.original_of(entry_id)
    try:
        original = store.entries.get(oid)
    except StoreError as e:
        raise ReportError(f"no entry with id {entry_id}") from e
    copies = sorted(_copies(store.reports.copy_rows(original_id=oid), store),
                    key=lambda c: (c.lag_seconds, c.copy_id))
    return Story(oid, original.title, original.url, original.feed_name, original.when, tuple(copies))


def stories_table(items: list[StorySummary], tz: ZoneInfo) -> str:
    rows = [{"id": s.id, "published": local_time(s.published, tz), "feed": s.feed, "copies": s.copies,
             "credited": f"{s.credited}/{s.copies}", "first": format_lag(s.first_lag_seconds),
             "title": s.title} for s in items]
    return table(rows, [("id", "id"), ("published", "published"), ("feed", "feed"), ("copies", "copies"),
                        ("credited", "credited"), ("first", "first copy"), ("title", "title")], max_width=60)


def story_text(s: Story, tz: ZoneInfo) -> str:
    n = len(s.copies)
    head = [f"{s.title}", f"{s.feed}, {local_time(s.published, tz, '%Y-%m-%d %H:%M %Z')}, "
            f"{n} {'copy' if n == 1 else 'copies'} ({s.credited} credited)", s.url, ""]
    rows = [{"lag": c.lag, "feed": c.feed, "kind": kind_label(c.kind, c.added_words), "coverage": percent(c.coverage),
             "taken": taken_label(c.copy_share, c.copy_sentences, c.taken_sentences),
             "credited": c.credited, "via": " > ".join(c.chain[1:-1]) if c.chain else "",
             "published": local_time(c.when, tz), "id": c.copy_id, "title": c.title,
             "note": c.anomaly or ""} for c in s.copies]
    columns = [("lag", "lag"), ("feed", "copy"), ("kind", "kind"), ("coverage", "used"),
               ("taken", "from original"), ("credited", "credited"), ("via", "via"), ("published", "published"),
               ("id", "id"),
               ("title", "title")]
    if any(r["note"] for r in rows):
        columns.append(("note", "note"))
    return "\n".join(head) + table(rows, columns)


# -- outlets ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutletStats:
    feed: str
    copies: int
    credited: int
    median_lag_seconds: float | None
    p90_lag_seconds: float | None
    kinds: dict[str, int] = field(default_factory=dict)
    top_sources: tuple[tuple[str, int], ...] = ()

    @property
    def share_credited(self) -> float:
        return self.credited / self.copies if self.copies else 0.0

    @property
    def share_uncredited(self) -> float:
        return 1.0 - self.share_credited if self.copies else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = _dict(self)
        d.update(share_credited=round(self.share_credited, 4), median_lag=format_lag(self.median_lag_seconds),
                 p90_lag=format_lag(self.p90_lag_seconds),
                 top_sources=[{"feed": f, "copies": n} for f, n in self.top_sources])
        return d


def outlet_stats(copies: list[Copy], top: int = 3) -> list[OutletStats]:
    """Per copying feed: copies, lag median/p90, credit, kinds, the feeds it copies most."""
    by_feed: dict[str, list[Copy]] = {}
    for c in copies:
        by_feed.setdefault(c.feed, []).append(c)
    out = []
    for feed, cs in by_feed.items():
        lags = [c.lag_seconds for c in cs]
        sources = Counter(c.original_feed for c in cs)
        out.append(OutletStats(feed, len(cs), sum(c.credited for c in cs), percentile(lags, 50),
                               percentile(lags, 90), dict(Counter(c.kind for c in cs)),
                               tuple(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))[:top])))
    out.sort(key=lambda o: (-o.copies, o.feed))
    return out


def outlets(store: Store, since: datetime | None = None, until: datetime | None = None) -> list[OutletStats]:
    """Per outlet, over the copies that appeared in [since, until)."""
    return outlet_stats(_copies(store.reports.copy_rows(start=since, end=until), store))


def outlets_table(items: list[OutletStats]) -> str:
    rows = [{"feed": o.feed, "copies": o.copies, "median": format_lag(o.median_lag_seconds),
             "p90": format_lag(o.p90_lag_seconds), "credited": percent(o.share_credited),
             "sources": ", ".join(f"{f} ({n})" for f, n in o.top_sources)} for o in items]
    return table(rows, [("feed", "outlet"), ("copies", "copies"), ("median", "median lag"),
                        ("p90", "p90 lag"), ("credited", "credited"), ("sources", "top sources")],
                 max_width=60)
