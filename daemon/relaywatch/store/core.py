"""``Store``: one SQLite database (WAL). It owns the connections, the lock, transactions and
savepoints, migrations and ``close``; what is stored is reached through one object per record
kind: ``feeds``, ``entries``, ``links``, ``index``, ``reports``, ``digests``."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from relaywatch.store.base import StoreError, to_db, utcnow
from relaywatch.store.boiler import Boilerplate
from relaywatch.store.bulk import Bulk
from relaywatch.store.digests import Digests
from relaywatch.store.entries import Entries
from relaywatch.store.feeds import Feeds
from relaywatch.store.index import FingerprintIndex
from relaywatch.store.links import Links
from relaywatch.store.reporting import Reports
from relaywatch.store.schema import MIGRATIONS, SCHEMA_VERSION, _statements

CACHE_KIB = 32_768  # SQLite page cache of the writer's connection
READ_CACHE_KIB = 2_048  # of the connection other threads read through (Store.reading)
# WAL pages before SQLite copies them into the database (with an fsync), at a commit. SQLite's
# default, 1,000 pages (4 MB), made checkpoints a quarter of the writer's time on polls of 20
# entries; at 10,000 (40 MB of WAL) hot pages (indexes, full-text segments) are copied once for
# many commits: ingest 2.1 -> 1.55 ms an entry (bench/load.py's feeds, 20 entries a transaction).
WAL_CHECKPOINT_PAGES = 10_000

_TABLES = ("feeds", "entries", "reposts", "polls", "fingerprint_index", "fingerprints", "fingerprint_pending")


def _connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # bounded: the index stays on disk
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    return conn


class Store:
    """One SQLite database. Thread-safe: writers take the store's lock for a whole transaction."""

    def __init__(self, path: str | Path, busy_timeout: float = 30.0, migrate: bool = True) -> None:
        self.path = str(path)
        try:
            self.conn = _connect(self.path, busy_timeout)
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open database {self.path}: {e}") from e
        self.db = sqlite_utils.Database(self.conn)
        self.lock = threading.RLock()
        self._owner: int | None = None  # the thread in a transaction
        self._read_lock = threading.Lock()
        self._read_db: sqlite_utils.Database | None = None
        self._depth = 0
        self.feeds = Feeds(self)
        self.entries = Entries(self)
        self.links = Links(self)
        self.index = FingerprintIndex(self)
        self.reports = Reports(self)
        self.digests = Digests(self)
        self.boiler = Boilerplate(self)
        self.bulk = Bulk(self)
        if migrate:
            self.migrate()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        with self._read_lock:
            if self._read_db is not None:
                self._read_db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[sqlite_utils.Database]:
        """A connection (as a sqlite-utils ``Database``) for a read by any thread, without waiting
        for the writer.

        The writer's connection is not it: SQLite lets one thread at a time use a connection, and
        Python's sqlite3 binds parameters and reads rows holding the GIL, so a polling thread that
        read through it while the writer was committing held the GIL until the commit ended,
        stopping every thread of the daemon. The thread in a transaction reads through its own
        connection (it must see what it wrote); the others share a read connection (WAL: readers
        see the last commit and never block the writer).
        """
        if self._owner == threading.get_ident() or self.path == ":memory:":
            with self.lock:
                yield self.db
            return
        with self._read_lock:
            if self._read_db is None:
                try:
                    conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                    conn.execute("PRAGMA query_only=1")
                    conn.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
                except sqlite3.Error as e:
                    raise StoreError(f"cannot open database {self.path}: {e}") from e
                self._read_db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
            yield self._read_db

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only SQL query (canned queries, reports, tests); rows as dicts."""
        try:
            return [dict(r) for r in self.db.query(sql, params)]
        except sqlite3.Error as e:
            raise StoreError(f"query failed: {e}") from e

    def count(self, table: str) -> int:
        if table not in _TABLES:
            raise StoreError(f"no table {table}")
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def table_sizes(self) -> dict[str, int]:
        """Bytes on disk per table and index (SQLite's dbstat), e.g. to weigh the fingerprint index."""
        try:
            rows = self.conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"cannot measure {self.path}: {e}") from e
        return {name: int(size) for name, size in rows}

    # -- transactions --------------------------------------------------------------------------

    @property
    def writing(self) -> bool:
        """In a write transaction (of the thread holding the lock)."""
        return self._depth > 0

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
            self.index.begin()
            self.entries.begin()
            try:
                self.index.sync()
                yield
                self.index.before_commit()
                self.entries.before_commit()
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
            self.index.after_commit()

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
                    self.index.part_undone()  # what the part stored is gone from the database
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
        self.index.rolled_back()
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- migrations ----------------------------------------------------------------------------

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
