"""The SQLite record. The only module that holds SQL or imports sqlite3 / sqlite_utils.

Plain tables that anyone can query (``feeds``, ``entries``, ``fingerprints``,
``fingerprint_index``, ``reposts``, ``polls``) plus the ``repost_report`` view. Migrations are an
ordered list recorded in ``schema_migrations``, each applied in its own transaction; a shipped
migration is never edited, a change is a new one appended to ``MIGRATIONS``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from .errors import RelaywatchError
from .models import Feed, Link, ParsedEntry, PollOutcome, StoredEntry
from .text import CleanText


class StoreError(RelaywatchError):
    pass


def to_db(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('wire', 'outlet', 'relay')),
    credit TEXT NOT NULL DEFAULT '[]',
    interval_s INTEGER NOT NULL DEFAULT 1800,
    source TEXT NOT NULL DEFAULT 'config',
    title TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new',
    etag TEXT,
    last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_status INTEGER,
    last_poll TEXT,
    next_poll TEXT,
    fetch_article INTEGER,
    min_interval_s INTEGER,
    created_at TEXT NOT NULL
);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    guid TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    published TEXT,
    published_raw TEXT,
    date_flag TEXT,
    updated TEXT,
    first_seen TEXT NOT NULL,
    last_changed TEXT,
    text TEXT NOT NULL DEFAULT '',
    feed_text TEXT,
    article_text TEXT,
    dateline TEXT NOT NULL DEFAULT '',
    credits TEXT NOT NULL DEFAULT '[]',
    sources TEXT NOT NULL DEFAULT '[]',
    boilerplate TEXT NOT NULL DEFAULT '[]',
    words INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT,
    update_of INTEGER REFERENCES entries(id),
    UNIQUE (feed_id, guid)
);
CREATE INDEX entries_url ON entries(url);
CREATE INDEX entries_first_seen ON entries(first_seen);
CREATE TABLE fingerprints (
    entry_id INTEGER PRIMARY KEY REFERENCES entries(id),
    method TEXT NOT NULL,
    shingles INTEGER NOT NULL,
    fingerprints INTEGER NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE TABLE fingerprint_index (
    hash INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    PRIMARY KEY (hash, entry_id)
) WITHOUT ROWID;
CREATE TABLE reposts (
    id INTEGER PRIMARY KEY,
    original_id INTEGER NOT NULL REFERENCES entries(id),
    copy_id INTEGER NOT NULL UNIQUE REFERENCES entries(id),
    via_id INTEGER REFERENCES entries(id),
    kind TEXT NOT NULL CHECK (kind IN ('verbatim', 'excerpt', 'edited')),
    coverage REAL NOT NULL,
    copy_share REAL NOT NULL,
    lag_seconds REAL NOT NULL,
    credited INTEGER NOT NULL,
    anomaly TEXT,
    detected_at TEXT NOT NULL
);
CREATE INDEX reposts_original ON reposts(original_id);
CREATE INDEX reposts_via ON reposts(via_id);
CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    started_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    http_status INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,
    new_entries INTEGER NOT NULL DEFAULT 0,
    updated_entries INTEGER NOT NULL DEFAULT 0,
    links INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX polls_feed ON polls(feed_id, started_at);
CREATE VIEW repost_report AS
SELECT r.id AS id,
       o.url AS original_url, fo.name AS original_feed, o.title AS original_title,
       c.url AS copy_url, fc.name AS copy_feed, c.title AS copy_title,
       v.url AS via_url, fv.name AS via_feed,
       r.kind, r.coverage, r.lag_seconds, r.credited, r.anomaly,
       o.published AS original_published, o.first_seen AS original_first_seen,
       c.published AS copy_published, c.first_seen AS copy_first_seen,
       r.detected_at, r.original_id, r.copy_id, r.via_id
FROM reposts r
JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id;
"""),
    Migration(2, "digests sent", """
CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL UNIQUE,
    timezone TEXT NOT NULL,
    recipients TEXT NOT NULL DEFAULT '[]',
    message_id TEXT,
    subject TEXT,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_at TEXT,
    next_attempt TEXT,
    sent_at TEXT,
    stories INTEGER,
    copies INTEGER,
    created_at TEXT NOT NULL
);
"""),
    Migration(3, "full-text search over entries", """
CREATE VIRTUAL TABLE [entries_fts] USING FTS5 ([title], [text], content=[entries]);
INSERT INTO [entries_fts] ([entries_fts]) VALUES ('rebuild');
CREATE TRIGGER [entries_ai] AFTER INSERT ON [entries] BEGIN
  INSERT INTO [entries_fts] (rowid, [title], [text]) VALUES (new.rowid, new.[title], new.[text]);
END;
CREATE TRIGGER [entries_ad] AFTER DELETE ON [entries] BEGIN
  INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [text])
    VALUES ('delete', old.rowid, old.[title], old.[text]);
END;
CREATE TRIGGER [entries_au] AFTER UPDATE OF [title], [text] ON [entries] BEGIN
  INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [text])
    VALUES ('delete', old.rowid, old.[title], old.[text]);
  INSERT INTO [entries_fts] (rowid, [title], [text]) VALUES (new.rowid, new.[title], new.[text]);
END;
"""),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
CACHE_KIB = 32_768  # SQLite page cache per connection

_FEED_COLUMNS = ("id, name, url, role, credit, interval_s, source, title, status, etag, last_modified, failures,"
                 " last_error, last_status, last_poll, next_poll, fetch_article, min_interval_s")
_ENTRY_SELECT = """SELECT e.id, e.feed_id, f.name, f.role, e.guid, e.url, e.title, e.published, e.first_seen,
    e.text, e.dateline, e.credits, e.sources, f.credit, f.title
    FROM entries e JOIN feeds f ON f.id = e.feed_id"""


def _feed(row: Sequence[Any]) -> Feed:
    return Feed(id=row[0], name=row[1], url=row[2], role=row[3], credit=tuple(json.loads(row[4])),
                interval=row[5], source=row[6], title=row[7], status=row[8], etag=row[9],
                last_modified=row[10], failures=row[11], last_error=row[12], last_status=row[13],
                last_poll=from_db(row[14]), next_poll=from_db(row[15]),
                fetch_article=None if row[16] is None else bool(row[16]), min_interval=row[17])


def _entry(row: Sequence[Any]) -> StoredEntry:
    feed_credit = tuple(json.loads(row[13]))
    names = feed_credit or tuple(dict.fromkeys(n for n in (row[2], row[2].replace("-", " "), row[14]) if n))
    return StoredEntry(id=row[0], feed_id=row[1], feed_name=row[2], role=row[3], guid=row[4], url=row[5],
                       title=row[6], published=from_db(row[7]), first_seen=from_db(row[8]) or utcnow(),
                       text=row[9], dateline=row[10], credits=tuple(json.loads(row[11])),
                       sources=tuple(json.loads(row[12])), credit_names=names, feed_title=row[14])


class Store:
    """One SQLite database. Thread-safe: writers take the store's lock for a whole transaction."""

    def __init__(self, path: str | Path, busy_timeout: float = 30.0, migrate: bool = True) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self.conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # bounded: the index stays on disk
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open database {self.path}: {e}") from e
        self.db = sqlite_utils.Database(self.conn)
        self.lock = threading.RLock()
        self._depth = 0
        if migrate:
            self.migrate()

    # -- transactions and migrations -------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (nested calls join the outer one). Retries a locked BEGIN."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback()
                raise StoreError(f"cannot commit to {self.path}: {e}") from e

    def _begin(self) -> None:
        delay = 0.05
        for attempt in range(8):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or attempt == 7:
                    raise StoreError(f"cannot write to {self.path}: {e}") from e
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    def schema_version(self) -> int:
        try:
            row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0
        return row[0] or 0

    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen, each in its own transaction."""
        applied = []
        try:
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                              "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {current}, newer than this relaywatch "
                                 f"({SCHEMA_VERSION}): upgrade relaywatch")
            for m in MIGRATIONS:
                if m.version <= current:
                    continue
                with self.transaction():
                    for statement in _statements(m.sql):
                        self.conn.execute(statement)
                    self.conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                                      (m.version, m.name, to_db(utcnow())))
                applied.append(m.version)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot migrate {self.path}: {e}") from e
        return applied

    # -- feeds ------------------------------------------------------------------------------

    def upsert_feed(self, name: str, url: str, role: str, credit: Iterable[str] = (), interval: int = 1800,
                    source: str = "config", fetch_article: bool | None = None) -> Feed:
        """Create the feed or update its configured fields; polling state is kept."""
        now = to_db(utcnow())
        with self.transaction():
            row = self.conn.execute("SELECT id, url FROM feeds WHERE name = ?", (name,)).fetchone()
            credit_json = json.dumps(list(credit))
            fa = None if fetch_article is None else int(fetch_article)
            if row is None:
                self.conn.execute(
                    "INSERT INTO feeds (name, url, role, credit, interval_s, source, fetch_article, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (name, url, role, credit_json, interval, source, fa, now))
            else:
                self.conn.execute(
                    "UPDATE feeds SET url = ?, role = ?, credit = ?, interval_s = ?, source = ?, fetch_article = ?"
                    " WHERE name = ?", (url, role, credit_json, interval, source, fa, name))
        feed = self.feed_by_name(name)
        assert feed is not None
        return feed

    def ensure_feed(self, name: str, role: str, credit: Iterable[str] = (), url: str = "") -> Feed:
        """The feed of that name, created (for ingested archives) when it does not exist."""
        feed = self.feed_by_name(name)
        if feed is not None:
            if feed.role != role or (credit and tuple(credit) != feed.credit):
                with self.transaction():
                    self.conn.execute("UPDATE feeds SET role = ?, credit = ? WHERE id = ?",
                                      (role, json.dumps(list(credit or feed.credit)), feed.id))
                feed = self.feed_by_name(name)
                assert feed is not None
            return feed
        return self.upsert_feed(name, url or f"ingest:{name}", role, credit, source="ingest")

    def feeds(self) -> list[Feed]:
        rows = self.conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY name").fetchall()
        return [_feed(r) for r in rows]

    def feed_by_name(self, name: str) -> Feed | None:
        row = self.conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE name = ?", (name,)).fetchone()
        return _feed(row) if row else None

    def feed(self, feed_id: int) -> Feed:
        row = self.conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)).fetchone()
        if row is None:
            raise StoreError(f"no feed with id {feed_id}")
        return _feed(row)

    def remove_feed(self, name: str) -> bool:
        with self.transaction():
            cur = self.conn.execute("UPDATE feeds SET status = 'removed', next_poll = NULL WHERE name = ?",
                                    (name,))
        return cur.rowcount > 0

    def save_feed_state(self, feed: Feed) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE feeds SET url = ?, title = ?, status = ?, etag = ?, last_modified = ?, failures = ?,"
                " last_error = ?, last_status = ?, last_poll = ?, next_poll = ?, min_interval_s = ?"
                " WHERE id = ?",
                (feed.url, feed.title, feed.status, feed.etag, feed.last_modified, feed.failures,
                 feed.last_error, feed.last_status, to_db(feed.last_poll), to_db(feed.next_poll),
                 feed.min_interval, feed.id))

    def record_poll(self, outcome: PollOutcome) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO polls (feed_id, started_at, duration_ms, http_status, bytes, new_entries,"
                " updated_entries, links, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (outcome.feed_id, to_db(outcome.started), outcome.duration_ms, outcome.http_status,
                 outcome.bytes, outcome.new_entries, outcome.updated_entries, outcome.links, outcome.error))

    # -- entries ----------------------------------------------------------------------------

    def entry_state(self, feed_id: int, guid: str) -> tuple[int, str | None] | None:
        """(id, content hash) of the feed's entry with that guid, if stored."""
        row = self.conn.execute("SELECT id, content_hash FROM entries WHERE feed_id = ? AND guid = ?",
                                (feed_id, guid)).fetchone()
        return (row[0], row[1]) if row else None

    def insert_entry(self, feed_id: int, entry: ParsedEntry, clean: CleanText, content_hash: str,
                     first_seen: datetime, feed_text: str | None = None,
                     article_text: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO entries (feed_id, guid, url, title, published, published_raw, date_flag, updated,"
            " first_seen, last_changed, text, feed_text, article_text, dateline, credits, sources, boilerplate,"
            " words, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (feed_id, entry.guid, entry.url, entry.title, to_db(entry.published), entry.published_raw,
             entry.date_flag, to_db(entry.updated), to_db(first_seen), to_db(first_seen), clean.text, feed_text,
             article_text, clean.dateline, json.dumps(clean.credits), json.dumps(clean.sources),
             json.dumps(clean.boilerplate), clean.words, content_hash))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def update_entry(self, entry_id: int, entry: ParsedEntry, clean: CleanText, content_hash: str,
                     changed: datetime, feed_text: str | None = None, article_text: str | None = None) -> None:
        self.conn.execute(
            "UPDATE entries SET url = ?, title = ?, updated = ?, last_changed = ?, text = ?, feed_text = ?,"
            " article_text = ?, dateline = ?, credits = ?, sources = ?, boilerplate = ?, words = ?,"
            " content_hash = ? WHERE id = ?",
            (entry.url, entry.title, to_db(entry.updated), to_db(changed), clean.text, feed_text, article_text,
             clean.dateline, json.dumps(clean.credits), json.dumps(clean.sources), json.dumps(clean.boilerplate),
             clean.words, content_hash, entry_id))

    def article_text_for_url(self, url: str) -> str | None:
        row = self.conn.execute("SELECT article_text FROM entries WHERE url = ? AND article_text IS NOT NULL"
                                " LIMIT 1", (url,)).fetchone()
        return row[0] if row else None

    def mark_update_of(self, entry_id: int, earlier_id: int) -> None:
        self.conn.execute("UPDATE entries SET update_of = ? WHERE id = ?", (earlier_id, entry_id))

    def entries(self, ids: Iterable[int]) -> dict[int, StoredEntry]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"{_ENTRY_SELECT} WHERE e.id IN ({marks})", ids).fetchall()
        return {r[0]: _entry(r) for r in rows}

    def entry(self, entry_id: int) -> StoredEntry:
        found = self.entries([entry_id])
        if entry_id not in found:
            raise StoreError(f"no entry with id {entry_id}")
        return found[entry_id]

    def table_sizes(self) -> dict[str, int]:
        """Bytes on disk per table and index (SQLite's dbstat), e.g. to weigh the fingerprint index."""
        try:
            rows = self.conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"cannot measure {self.path}: {e}") from e
        return {name: int(size) for name, size in rows}

    def count(self, table: str) -> int:
        if table not in ("feeds", "entries", "reposts", "polls", "fingerprint_index", "fingerprints"):
            raise StoreError(f"no table {table}")
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    # -- fingerprints -----------------------------------------------------------------------

    def save_fingerprint(self, entry_id: int, method: str, shingles: int, fingerprints: np.ndarray,
                         tokens: int, replace: bool = False) -> None:
        if replace:
            self.conn.execute("DELETE FROM fingerprint_index WHERE entry_id = ?", (entry_id,))
        self.conn.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?, ?)",
                          (entry_id, method, shingles, len(fingerprints), tokens))
        self.conn.executemany("INSERT OR IGNORE INTO fingerprint_index (hash, entry_id) VALUES (?, ?)",
                              ((int(h), entry_id) for h in fingerprints))

    def candidates(self, fingerprints: np.ndarray, per_hash: int) -> dict[int, int]:
        """Entries sharing fingerprints with a text: {entry id: shared fingerprints}.

        Each fingerprint contributes at most its ``per_hash`` oldest entries, so a phrase that
        thousands of stories share costs no more than a rare one (the original of a story is the
        oldest entry holding its fingerprints, so it is never the one left out).
        """
        if not len(fingerprints):
            return {}
        rows = self.conn.execute(
            "SELECT f.entry_id FROM json_each(?) j JOIN fingerprint_index f ON f.hash = j.value"
            " AND f.entry_id <= coalesce((SELECT entry_id FROM fingerprint_index WHERE hash = j.value"
            " ORDER BY entry_id LIMIT 1 OFFSET ?), 9223372036854775807)",
            (json.dumps([int(h) for h in fingerprints]), per_hash - 1)).fetchall()
        hits: dict[int, int] = {}
        for (eid,) in rows:
            hits[eid] = hits.get(eid, 0) + 1
        return hits

    # -- reposts ----------------------------------------------------------------------------

    def link_of(self, copy_id: int) -> Link | None:
        row = self.conn.execute("SELECT original_id, copy_id, via_id, kind, coverage, copy_share, lag_seconds,"
                                " credited, anomaly FROM reposts WHERE copy_id = ?", (copy_id,)).fetchone()
        return _link(row) if row else None

    def links_of_original(self, original_id: int) -> list[Link]:
        rows = self.conn.execute("SELECT original_id, copy_id, via_id, kind, coverage, copy_share, lag_seconds,"
                                 " credited, anomaly FROM reposts WHERE original_id = ? ORDER BY copy_id",
                                 (original_id,)).fetchall()
        return [_link(r) for r in rows]

    def named_orphans(self, original_id: int) -> list[Link]:
        """Links to ``original_id`` with no ``via`` whose copy names a source in a relay footer."""
        rows = self.conn.execute("SELECT r.original_id, r.copy_id, r.via_id, r.kind, r.coverage, r.copy_share,"
                                 " r.lag_seconds, r.credited, r.anomaly FROM reposts r JOIN entries e"
                                 " ON e.id = r.copy_id WHERE r.original_id = ? AND r.via_id IS NULL"
                                 " AND e.sources != '[]' ORDER BY r.copy_id", (original_id,)).fetchall()
        return [_link(r) for r in rows]

    def originals_of(self, entry_ids: Iterable[int]) -> dict[int, int]:
        """{copy id: its original} for those of ``entry_ids`` that are copies."""
        ids = list(entry_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT copy_id, original_id FROM reposts WHERE copy_id IN ({marks})",
                                 ids).fetchall()
        return dict(rows)

    def save_link(self, link: Link, detected_at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO reposts (original_id, copy_id, via_id, kind, coverage, copy_share, lag_seconds, credited,"
            " anomaly, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(copy_id) DO UPDATE SET original_id = excluded.original_id, via_id = excluded.via_id,"
            " kind = excluded.kind, coverage = excluded.coverage, copy_share = excluded.copy_share,"
            " lag_seconds = excluded.lag_seconds, credited = excluded.credited, anomaly = excluded.anomaly",
            (link.original_id, link.copy_id, link.via_id, link.kind, round(link.coverage, 4),
             round(link.copy_share, 4), link.lag_seconds, int(link.credited), link.anomaly, to_db(detected_at)))

    def delete_link(self, copy_id: int) -> None:
        self.conn.execute("DELETE FROM reposts WHERE copy_id = ?", (copy_id,))

    def repost_rows(self, since: datetime | None = None, feed: str | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
        """The repost_report view as dicts, oldest detection first."""
        where, args = [], []
        if since is not None:
            where.append("copy_first_seen >= ?")
            args.append(to_db(since))
        if feed:
            where.append("(copy_feed = ? OR original_feed = ?)")
            args += [feed, feed]
        sql = "SELECT * FROM repost_report" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id" + (f" LIMIT {int(limit)}" if limit else "")
        return [dict(r) for r in self.db.query(sql, args)]

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only SQL query (canned queries, reports)."""
        try:
            return [dict(r) for r in self.db.query(sql, params)]
        except sqlite3.Error as e:
            raise StoreError(f"query failed: {e}") from e

    # -- reports and digests (issue 5) ---------------------------------------------------------

    def copy_rows(self, start: datetime | None = None, end: datetime | None = None, feed: str | None = None,
                  original_id: int | None = None, detected: tuple[datetime, datetime] | None = None,
                  ) -> list[dict[str, Any]]:
        """One dict per link with both entries' times (``*_when``: published, else first seen).

        ``start``/``end`` bound the copy's time (end excluded); ``feed`` keeps links where it is the
        copy's or the original's feed; ``detected`` bounds when the link was found (end excluded).
        Ordered by original, then the copy's time.
        """
        where, args = [], []
        if detected is not None:
            where.append("r.detected_at >= ? AND r.detected_at < ?")
            args += [to_db(detected[0]), to_db(detected[1])]
        if start is not None:
            where.append("coalesce(c.published, c.first_seen) >= ?")
            args.append(to_db(start))
        if end is not None:
            where.append("coalesce(c.published, c.first_seen) < ?")
            args.append(to_db(end))
        if feed:
            where.append("(fc.name = ? OR fo.name = ?)")
            args += [feed, feed]
        if original_id is not None:
            where.append("r.original_id = ?")
            args.append(original_id)
        sql = _COPY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY r.original_id, copy_when, r.copy_id"
        return self.query(sql, args)

    def story_rows(self, since: datetime | None = None, feed: str | None = None, min_copies: int = 1,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """Originals with their copy counts, most copied first.

        ``since`` bounds the original's time; ``feed`` keeps stories from that feed or copied by it.
        """
        where, args = [], []
        if since is not None:
            where.append("coalesce(o.published, o.first_seen) >= ?")
            args.append(to_db(since))
        if feed:
            where.append("(fo.name = ? OR r.original_id IN (SELECT r2.original_id FROM reposts r2"
                         " JOIN entries c2 ON c2.id = r2.copy_id JOIN feeds f2 ON f2.id = c2.feed_id"
                         " WHERE f2.name = ?))")
            args += [feed, feed]
        sql = ("SELECT o.id AS id, o.title AS title, o.url AS url, fo.name AS feed,"
               " coalesce(o.published, o.first_seen) AS published, count(*) AS copies,"
               " sum(r.credited) AS credited, count(DISTINCT c.feed_id) AS outlets,"
               " min(r.lag_seconds) AS first_lag, max(coalesce(c.published, c.first_seen)) AS last_copy"
               " FROM reposts r JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id"
               " JOIN entries c ON c.id = r.copy_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " GROUP BY o.id HAVING count(*) >= ? ORDER BY copies DESC, published DESC, o.id")
        args.append(max(int(min_copies), 1))
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.query(sql, args)

    def original_of(self, entry_id: int) -> int:
        """The story an entry belongs to: its original when it is a copy, else itself."""
        row = self.conn.execute("SELECT original_id FROM reposts WHERE copy_id = ?", (entry_id,)).fetchone()
        return int(row[0]) if row else entry_id

    def feed_health_rows(self) -> list[dict[str, Any]]:
        """Every feed with its polling state, entry count and the time of its newest entry."""
        return self.query(
            "SELECT f.id, f.name, f.role, f.url, f.status, f.source, f.failures, f.last_error, f.last_status,"
            " f.last_poll, f.next_poll, f.interval_s,"
            " (SELECT count(*) FROM entries e WHERE e.feed_id = f.id) AS entries,"
            " (SELECT max(e.first_seen) FROM entries e WHERE e.feed_id = f.id) AS last_new_entry,"
            " (SELECT max(p.started_at) FROM polls p WHERE p.feed_id = f.id AND p.error IS NULL)"
            " AS last_ok_poll FROM feeds f ORDER BY f.name")

    def search_entries(self, text: str, limit: int = 20, raw: bool = False) -> list[dict[str, Any]]:
        """Full-text search (FTS5 ``entries_fts``, sqlite-utils' layout) over titles and texts, best first.

        The words are quoted with sqlite-utils' ``quote_fts`` unless ``raw`` (FTS5 query syntax).
        """
        q = text if raw else self.db.quote_fts(text)
        return self.query(
            "SELECT e.id AS id, f.name AS feed, e.title AS title, e.url AS url,"
            " coalesce(e.published, e.first_seen) AS published,"
            " snippet(entries_fts, 1, '[', ']', '…', 14) AS snippet, r.original_id AS original_id,"
            " (SELECT count(*) FROM reposts r2 WHERE r2.original_id = e.id) AS copies"
            " FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid JOIN feeds f ON f.id = e.feed_id"
            " LEFT JOIN reposts r ON r.copy_id = e.id"
            " WHERE entries_fts MATCH ? ORDER BY entries_fts.rank, e.id LIMIT ?", (q, int(limit)))

    def earliest_entry_time(self) -> datetime | None:
        """The earliest time any stored entry appeared (published, else first seen)."""
        row = self.conn.execute("SELECT min(coalesce(published, first_seen)) FROM entries").fetchone()
        return from_db(row[0]) if row else None

    def digest_record(self, day: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM digests WHERE day = ?", (day,))
        return _digest(rows[0]) if rows else None

    def digest_records(self, since_day: str | None = None) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM digests WHERE day >= ? ORDER BY day", (since_day or "",))
        return [_digest(r) for r in rows]

    def claim_digest(self, day: str, timezone: str, message_id: str, now: datetime, stale_before: datetime,
                     ignore_backoff: bool = False, force: bool = False) -> dict[str, Any] | None:
        """Atomically take the sending of a day's digest; None when it is sent or being sent.

        A claim older than ``stale_before`` (a sender that died) can be taken again; a failed day
        waits for its ``next_attempt`` unless ``ignore_backoff``. The returned record keeps the
        Message-ID of an earlier attempt, so a resend of the same digest carries the same ID;
        ``force`` takes even a sent day, with the new Message-ID.
        """
        with self.transaction():
            row = self.digest_record(day)
            if row is not None:
                if not force:
                    if row["status"] in ("sent", "skipped"):
                        return None
                    claimed = row["claimed_at"]
                    if row["status"] == "sending" and claimed and claimed > (to_db(stale_before) or ""):
                        return None
                    if (row["status"] == "failed" and not ignore_backoff and row["next_attempt"]
                            and row["next_attempt"] > (to_db(now) or "")):
                        return None
                self.conn.execute("UPDATE digests SET status = 'sending', attempts = attempts + 1,"
                                  " claimed_at = ?, message_id = CASE WHEN ? THEN ? ELSE"
                                  " coalesce(message_id, ?) END WHERE day = ?",
                                  (to_db(now), int(force), message_id, message_id, day))
            else:
                self.conn.execute("INSERT INTO digests (day, timezone, message_id, status, attempts,"
                                  " claimed_at, created_at) VALUES (?, ?, ?, 'sending', 1, ?, ?)",
                                  (day, timezone, message_id, to_db(now), to_db(now)))
            return self.digest_record(day)

    def finish_digest(self, day: str, recipients: Sequence[str], message_id: str | None, subject: str,
                      sent_at: datetime, stories: int, copies: int, status: str = "sent") -> None:
        with self.transaction():
            self.conn.execute("UPDATE digests SET status = ?, recipients = ?, message_id = ?,"
                              " subject = ?, sent_at = ?, stories = ?, copies = ?, last_error = NULL,"
                              " next_attempt = NULL"
                              " WHERE day = ?", (status, json.dumps(list(recipients)), message_id, subject,
                                                 to_db(sent_at), stories, copies, day))

    def fail_digest(self, day: str, recipients: Sequence[str], error: str,
                    next_attempt: datetime | None) -> None:
        with self.transaction():
            self.conn.execute("UPDATE digests SET status = 'failed', recipients = ?, last_error = ?,"
                              " next_attempt = ? WHERE day = ?",
                              (json.dumps(list(recipients)), error, to_db(next_attempt), day))


def _link(row: Sequence[Any]) -> Link:
    return Link(original_id=row[0], copy_id=row[1], via_id=row[2], kind=row[3], coverage=row[4],
                copy_share=row[5], lag_seconds=row[6], credited=bool(row[7]), anomaly=row[8])


def _statements(sql: str) -> list[str]:
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


_COPY_SELECT = """SELECT r.id AS id, r.original_id, r.copy_id, r.via_id, r.kind, r.coverage, r.copy_share,
    r.lag_seconds, r.credited, r.anomaly, r.detected_at,
    o.title AS original_title, o.url AS original_url, fo.name AS original_feed,
    coalesce(o.published, o.first_seen) AS original_when,
    c.title AS copy_title, c.url AS copy_url, fc.name AS copy_feed, fc.role AS copy_role,
    coalesce(c.published, c.first_seen) AS copy_when, fv.name AS via_feed
    FROM reposts r
    JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
    JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
    LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id"""


def _digest(row: dict[str, Any]) -> dict[str, Any]:
    return dict(row, recipients=json.loads(row["recipients"] or "[]"))
