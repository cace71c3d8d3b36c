"""``Store``: one SQLite database (WAL); feeds and their polling state, entries, fingerprints, links."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import sqlite_utils

from relaywatch.detect.text import CleanText
from relaywatch.models import Feed, Link, ParsedEntry, PollOutcome, StoredEntry
from relaywatch.store.base import (
    _ENTRY_SELECT,
    _FEED_COLUMNS,
    StoreError,
    _entry,
    _feed,
    _link,
    _names_json,
    read_only_connection,
    to_db,
    utcnow,
)
from relaywatch.store.index import FingerprintIndex
from relaywatch.store.reporting import ReportQueries
from relaywatch.store.schema import MIGRATIONS, SCHEMA_VERSION, _statements

CACHE_KIB = 32_768  # SQLite page cache of the writer's connection
READ_CACHE_KIB = 2_048  # of the connection other threads read through (Store._reading)
# WAL pages before SQLite copies them into the database (with an fsync), at a commit. SQLite's
# default, 1,000 pages (4 MB), made checkpoints a quarter of the writer's time on polls of 20
# entries; at 10,000 (40 MB of WAL) hot pages (indexes, full-text segments) are copied once for
# many commits: ingest 2.1 -> 1.55 ms an entry (bench/load.py's feeds, 20 entries a transaction).
WAL_CHECKPOINT_PAGES = 10_000
# Entries waiting for the full-text index (entries_fts) before a write transaction indexes them,
# all in one statement. FTS5 writes a segment per transaction and merges segments as they pile up:
# indexed row by row (a trigger), polls of 20 entries cost 0.48 ms an entry in the writer, 45% of
# its time; in batches of 1,000, 0.04 ms. ``index_text`` catches up at once (search, the end of a
# poll or ingest run, and the daemon every ``TEXT_INDEX_EVERY`` seconds).
FTS_BATCH = 1000

_HASHES = "SELECT guid, content_hash FROM entries WHERE feed_id = ? AND guid IN (SELECT value FROM json_each(?))"


def _content_hashes(conn: sqlite3.Connection, feed_id: int, guids: list[str]) -> dict[str, str]:
    return {g: h for g, h in conn.execute(_HASHES, (feed_id, json.dumps(guids))) if h is not None}


def stored_content_hashes(path: str, feed_id: int, guids: list[str]) -> dict[str, str]:
    """``Store.content_hashes`` for a worker process, through a read-only connection opened for the
    call. Never raises: a store it cannot read gives {} (every entry is then prepared as new, and
    the writer, which checks again, finds those it already has)."""
    try:
        conn = read_only_connection(path)
    except (sqlite3.Error, ValueError):
        return {}
    try:
        return _content_hashes(conn, feed_id, guids)
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


class Store(ReportQueries, FingerprintIndex):
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
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open database {self.path}: {e}") from e
        self.db = sqlite_utils.Database(self.conn)
        self.lock = threading.RLock()
        self._owner: int | None = None  # the thread in a transaction
        self._read_lock = threading.Lock()
        self._read_conn: sqlite3.Connection | None = None
        self._depth = 0
        self._start_index()
        self._text_added = False  # this transaction stored entries (for the full-text index)
        if migrate:
            self.migrate()

    # -- transactions and migrations -------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        with self._read_lock:
            if self._read_conn is not None:
                self._read_conn.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for a read by any thread, without waiting for the writer.

        The writer's connection is not it: SQLite lets one thread at a time use a connection, and
        Python's sqlite3 binds parameters and reads rows holding the GIL, so a polling thread that
        read through it while the writer was committing held the GIL until the commit ended,
        stopping every thread of the daemon. The thread in a transaction reads through its own
        connection (it must see what it wrote); the others share a read connection (WAL: readers
        see the last commit and never block the writer).
        """
        if self._owner == threading.get_ident() or self.path == ":memory:":
            with self.lock:
                yield self.conn
            return
        with self._read_lock:
            if self._read_conn is None:
                try:
                    conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                    conn.execute("PRAGMA query_only=1")
                    conn.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
                except sqlite3.Error as e:
                    raise StoreError(f"cannot open database {self.path}: {e}") from e
                self._read_conn = conn
            yield self._read_conn

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
            self._owner = threading.get_ident()
            self._pending_changed = self._text_added = False
            try:
                self._sync_pending()
                yield
                if self._pending_changed:
                    self._close_pending()
                if self._text_added:
                    self._catch_up_text(FTS_BATCH)
            except BaseException:
                self._depth, self._owner = 0, None
                self._rollback()
                raise
            self._depth, self._owner = 0, None
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback()
                raise StoreError(f"cannot commit to {self.path}: {e}") from e
            if self._pending_changed and self._pending_version is not None:
                self._pending_version += 1

    def in_transaction(self) -> bool:
        """False after SQLite rolled a transaction back by itself (disk full, I/O error)."""
        return self.conn.in_transaction

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: a part that is undone alone when it raises (the rest commits)."""
        with self.lock:
            if not self._depth:
                raise StoreError("a savepoint needs a transaction")
            self.conn.execute("SAVEPOINT part")
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK TO part")
                    self.conn.execute("RELEASE part")
                    if self._pending_changed:  # what the part stored is gone from the database
                        self._load_pending(self._pending_version)
                raise
            self.conn.execute("RELEASE part")

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
        self._pending_version = None  # the pending map may hold what was undone: load it again
        self._forget_merges(None)
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
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY name").fetchall()
        return [_feed(r) for r in rows]

    def feed_by_name(self, name: str) -> Feed | None:
        with self._reading() as conn:
            row = conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE name = ?", (name,)).fetchone()
        return _feed(row) if row else None

    def feed(self, feed_id: int) -> Feed:
        with self._reading() as conn:
            row = conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)).fetchone()
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
                " last_error = ?, last_status = ?, last_poll = ?, next_poll = ?, min_interval_s = ?, body_hash = ?"
                " WHERE id = ?",
                (feed.url, feed.title, feed.status, feed.etag, feed.last_modified, feed.failures,
                 feed.last_error, feed.last_status, to_db(feed.last_poll), to_db(feed.next_poll),
                 feed.min_interval, feed.body_hash, feed.id))

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
        with self._reading() as conn:
            row = conn.execute("SELECT id, content_hash FROM entries WHERE feed_id = ? AND guid = ?",
                               (feed_id, guid)).fetchone()
        return (row[0], row[1]) if row else None

    def content_hashes(self, feed_id: int, guids: list[str]) -> dict[str, str]:
        """{guid: content hash} of those of ``guids`` the feed has stored (a poll's entries, one query)."""
        with self._reading() as conn:
            return _content_hashes(conn, feed_id, guids)

    def insert_entry(self, feed_id: int, entry: ParsedEntry, clean: CleanText, content_hash: str,
                     first_seen: datetime, feed_text: str | None = None,
                     article_text: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO entries (feed_id, guid, url, title, published, published_raw, date_flag, updated,"
            " first_seen, last_changed, text, feed_text, article_text, dateline, credits, sources, boilerplate,"
            " words, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (feed_id, entry.guid, entry.url, entry.title, to_db(entry.published), entry.published_raw,
             entry.date_flag, to_db(entry.updated), to_db(first_seen), to_db(first_seen), clean.text, feed_text,
             article_text, clean.dateline, _names_json(clean.credits), _names_json(clean.sources),
             _names_json(clean.boilerplate), clean.words, content_hash))
        self._text_added = True
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def update_entry(self, entry_id: int, entry: ParsedEntry, clean: CleanText, content_hash: str,
                     changed: datetime, feed_text: str | None = None, article_text: str | None = None) -> None:
        self.conn.execute(
            "UPDATE entries SET url = ?, title = ?, updated = ?, last_changed = ?, text = ?, feed_text = ?,"
            " article_text = ?, dateline = ?, credits = ?, sources = ?, boilerplate = ?, words = ?,"
            " content_hash = ? WHERE id = ?",
            (entry.url, entry.title, to_db(entry.updated), to_db(changed), clean.text, feed_text, article_text,
             clean.dateline, _names_json(clean.credits), _names_json(clean.sources), _names_json(clean.boilerplate),
             clean.words, content_hash, entry_id))

    def index_text(self) -> int:
        """Bring the full-text index (``entries_fts``) up to date now; returns the entries indexed."""
        with self.transaction():
            return self._catch_up_text(1)

    def _catch_up_text(self, at_least: int) -> int:
        """Index the entries stored since the last catch-up, when at least ``at_least`` wait."""
        try:
            upto, top = self.conn.execute("SELECT fts_upto, (SELECT coalesce(max(id), 0) FROM entries)"
                                          " FROM index_state").fetchone()
            if top - upto < at_least:
                return 0
            cur = self.conn.execute("INSERT INTO entries_fts (rowid, title, text)"
                                    " SELECT id, title, text FROM entries WHERE id > ? ORDER BY id", (upto,))
            self.conn.execute("UPDATE index_state SET fts_upto = ?", (top,))
        except sqlite3.Error as e:
            if "no such column: fts_upto" in str(e):  # before migration 6
                return 0
            raise StoreError(f"cannot update the full-text index of {self.path}: {e}") from e
        return cur.rowcount

    def set_content_hash(self, entry_id: int, content_hash: str) -> None:
        self.conn.execute("UPDATE entries SET content_hash = ? WHERE id = ?", (content_hash, entry_id))

    def article_text_for_url(self, url: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT article_text FROM entries WHERE url = ? AND article_text IS NOT NULL"
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
        if table not in ("feeds", "entries", "reposts", "polls", "fingerprint_index", "fingerprints",
                         "fingerprint_pending"):
            raise StoreError(f"no table {table}")
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

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
