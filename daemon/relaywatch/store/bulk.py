"""``store.bulk``: whole tables out and in, for a record made elsewhere (``relaywatch spark-ingest``).

Out: a table's columns and declared types, the columns that point at ``entries`` or ``feeds``,
and every row of a table (a Spark task reads its small in-memory store this way). In:
``import_rows`` loads entries (with their fingerprints) and links into this store, their ids
shifted past the entries it holds, in one transaction, then brings the full-text index up to
date. Nothing here names a column of ``entries`` or ``reposts`` beyond the keys: a column added by
a migration flows through.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relaywatch.store.base import StoreError

if TYPE_CHECKING:
    from relaywatch.store.core import Store

EXPORTED = ("entries", "reposts", "fingerprints")  # the tables a record made elsewhere holds
ENTRY_KEYS = {"entries": ("id",), "fingerprints": ("entry_id",)}


@dataclass(frozen=True)
class Column:
    name: str
    type: str          # INTEGER, REAL, TEXT or BLOB (SQLite's declared type)
    references: str | None = None  # "entries" or "feeds" when it points at one


@dataclass
class Imported:
    feeds: int = 0
    entries: int = 0
    links: int = 0
    fingerprints: int = 0
    id_offset: int = 0  # an imported entry's id is its archive id plus this


class Bulk:
    def __init__(self, store: Store) -> None:
        self._store = store

    def columns(self, table: str) -> list[Column]:
        """The table's columns in order, with what each points at (PRAGMA foreign_key_list)."""
        if table not in EXPORTED:
            raise StoreError(f"no exported table {table}")
        conn = self._store.conn
        refs = {row[3]: row[2] for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
        return [Column(row[1], (row[2] or "TEXT").upper(), refs.get(row[1]))
                for row in conn.execute(f"PRAGMA table_info({table})")]

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of the table, by rowid, as dicts of its columns."""
        names = [c.name for c in self.columns(table)]
        cur = self._store.conn.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY rowid")
        for row in cur:
            yield dict(zip(names, row, strict=True))

    def import_rows(self, feeds: Iterable[tuple[str, str, tuple[str, ...]]], entries: Iterable[dict[str, Any]],
                    links: Iterable[dict[str, Any]]) -> Imported:
        """Load a record: ``feeds`` (name, role, credit), created when missing; ``entries``, rows of
        ``entries`` with ``feed`` (its name) in place of ``feed_id``, plus the ``fingerprints``
        columns prefixed ``fp_`` and ``hashes`` (its winnowed fingerprints); ``links``, rows of
        ``reposts`` without ``id``. Ids are shifted past the store's last entry (relative order kept)."""
        done = Imported()
        try:
            with self._store.transaction():
                conn = self._store.conn
                base = conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0]
                done.id_offset = base
                feed_ids = {}
                for name, role, credit in feeds:
                    feed_ids[name] = self._store.feeds.ensure(name, role, credit).id
                    done.feeds += 1
                self._entries(conn, entries, base, feed_ids, done)
                self._links(conn, links, base, done)
                conn.execute("UPDATE index_state SET version = version + 1")
        except sqlite3.IntegrityError as e:
            raise StoreError(f"cannot import into {self._store.path}: it already holds some of these entries"
                             f" or links ({e})") from e
        except sqlite3.Error as e:
            raise StoreError(f"cannot import into {self._store.path}: {e}") from e
        self._store.entries.index_text()
        return done

    def _entries(self, conn: sqlite3.Connection, rows: Iterable[dict[str, Any]], base: int,
                 feed_ids: dict[str, int], done: Imported) -> None:
        entry_cols = self.columns("entries")
        fp_cols = self.columns("fingerprints")
        insert_entry = _insert_sql("entries", [c.name for c in entry_cols])
        insert_fp = _insert_sql("fingerprints", [c.name for c in fp_cols])
        for row in rows:
            values = []
            for c in entry_cols:
                if c.references == "feeds":
                    if row["feed"] not in feed_ids:
                        raise StoreError(f"entry {row['id']}: feed {row['feed']!r} is not in the feeds list")
                    values.append(feed_ids[row["feed"]])
                else:
                    values.append(_shift(row.get(c.name), base, c, "id"))
            conn.execute(insert_entry, values)
            done.entries += 1
            entry_id = int(row["id"]) + base
            if row.get("hashes") is None:
                continue
            conn.execute(insert_fp, [entry_id if c.name == "entry_id" else row.get(f"fp_{c.name}") for c in fp_cols])
            conn.executemany("INSERT OR IGNORE INTO fingerprint_index (hash, entry_id) VALUES (?, ?)",
                             ((int(h), entry_id) for h in row["hashes"]))
            done.fingerprints += 1

    def _links(self, conn: sqlite3.Connection, rows: Iterable[dict[str, Any]], base: int, done: Imported) -> None:
        cols = [c for c in self.columns("reposts") if c.name != "id"]
        insert = _insert_sql("reposts", [c.name for c in cols])
        for row in rows:
            conn.execute(insert, [_shift(row.get(c.name), base, c, None) for c in cols])
            done.links += 1


def _shift(value: Any, base: int, c: Column, key: str | None) -> Any:
    """An id of an entry moved past the store's entries; any other value as it is."""
    if value is not None and (c.references == "entries" or c.name == key):
        return int(value) + base
    return value


def _insert_sql(table: str, names: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
