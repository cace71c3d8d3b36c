"""The dataclasses that pass between modules (the store turns rows into these and back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Feed:
    """A feed as the store knows it, with its polling state."""

    id: int
    name: str
    url: str
    role: str
    credit: tuple[str, ...] = ()
    interval: int = 1800
    source: str = "config"
    title: str = ""
    status: str = "new"
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    last_error: str | None = None
    last_status: int | None = None
    last_poll: datetime | None = None
    next_poll: datetime | None = None
    fetch_article: bool | None = None
    min_interval: int | None = None  # from the feed's <ttl> or Cache-Control
    body_hash: str | None = None     # SHA-256 of the last body ingested: the same body is not parsed again

    def credit_names(self) -> tuple[str, ...]:
        """Names that credit this feed: its configured credit list, else its name and title."""
        if self.credit:
            return self.credit
        names = [self.name, self.name.replace("-", " ")]
        if self.title:
            names.append(self.title)
        return tuple(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class ParsedEntry:
    """One entry as the feed gave it."""

    guid: str
    url: str
    title: str
    html: str                      # the richest of content / summary / description
    published: datetime | None     # UTC, None when missing or not trusted
    published_raw: str | None
    date_flag: str | None          # None, "missing", "unparsed", "future", "ancient"
    updated: datetime | None = None
    article_html: str | None = None


@dataclass
class EntryText:
    """What the store keeps of an entry's cleaned text (``detect.text.CleanText`` gives it): the
    story, its dateline, credit lines, sources named by relay footers, the boilerplate patterns
    that fired, and its number of words (-1: counted here)."""

    text: str
    dateline: str = ""
    credits: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    boilerplate: tuple[str, ...] = ()
    words: int = -1

    def __post_init__(self) -> None:
        if self.words < 0:
            self.words = len(self.text.split())


@dataclass(frozen=True)
class IndexRows:
    """The fingerprint index's rows (hash, entry id) for a text's fingerprints, at most the
    ``per_hash`` oldest of each, as a worker process read them, and the index version they were
    read at (``store.index.candidates`` adds the entries merged into the index since)."""

    version: int
    per_hash: int
    rows: np.ndarray  # int64, one (hash, entry id) row each (2 KB for a story: tuples took 20)


@dataclass(frozen=True)
class StoredEntry:
    """An entry read back for matching and reporting."""

    id: int
    feed_id: int
    feed_name: str
    role: str
    guid: str
    url: str
    title: str
    published: datetime | None
    first_seen: datetime
    text: str
    dateline: str = ""
    credits: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    credit_names: tuple[str, ...] = ()
    feed_title: str = ""
    boilerplate: tuple[str, ...] = ()  # names of the relay boilerplate patterns that fired on its page

    @property
    def when(self) -> datetime:
        """The time the story appeared: its trusted published date, else when we first saw it."""
        return self.published or self.first_seen


@dataclass(frozen=True)
class Link:
    """``copy_id`` republishes ``original_id`` (taken from ``via_id`` when that is set)."""

    original_id: int
    copy_id: int
    via_id: int | None
    kind: str            # verbatim | excerpt | edited
    coverage: float      # share of the original's text found in the copy
    copy_share: float    # share of the copy's text that comes from the original
    lag_seconds: float
    credited: bool
    anomaly: str | None = None
    added_before: int = 0  # words of the copy's own before the original's text (an intro, a caption)...
    added_inside: int = 0  # ...inside it
    added_after: int = 0   # ...and after it (a footer, a list of headlines)
    credit_link: str | None = None  # the copy's link to the original's page or site, when that is its credit
    copy_sentences: int | None = None   # sentences of the copy (None: labelled before they were counted)...
    taken_sentences: int | None = None  # ...of which come from the original, verbatim or rewritten

    @property
    def added(self) -> int:
        return self.added_before + self.added_inside + self.added_after


@dataclass
class PollOutcome:
    """What one poll of one feed did (recorded in the polls table)."""

    feed_id: int
    started: datetime
    http_status: int | None = None
    bytes: int = 0
    new_entries: int = 0
    updated_entries: int = 0
    links: int = 0
    error: str | None = None
    duration_ms: int = 0
    notes: list[str] = field(default_factory=list)
    recorded: bool = True  # False when the database refused the poll's record (read-only, full, locked)
