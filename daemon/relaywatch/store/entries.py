"""``store.entries``: entries, their content hashes, and the full-text indexes that new entries
join in batches: ``entries_fts`` (words, unicode61) and ``entries_trigram`` (substrings, for
scripts written without spaces between words: Chinese, Japanese, Thai, ...), and the search over
them."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from relaywatch.models import EntryText, ParsedEntry, StoredEntry
from relaywatch.store.base import StoreError, _credit_names, _names, from_db, read_only_connection, to_db, utcnow
from relaywatch.store.schema import UNSPACED_CLASS

if TYPE_CHECKING:
    from relaywatch.store.core import Store

# Entries waiting for the full-text index (entries_fts) before a write transaction indexes them,
# all in one statement. FTS5 writes a segment per transaction and merges segments as they pile up:
# indexed row by row (a trigger), polls of 20 entries cost 0.48 ms an entry in the writer, 45% of
# its time; in batches of 1,000, 0.04 ms. ``index_text`` catches up at once (search, the end of a
# poll or ingest run, and the daemon every ``TEXT_INDEX_EVERY`` seconds).
FTS_BATCH = 1000

_ENTRY_SELECT = """SELECT e.id, e.feed_id, f.name, f.role, e.guid, e.url, e.title, e.published, e.first_seen,
    e.text, e.dateline, e.credits, e.sources, f.credit, f.title, e.boilerplate
    FROM entries e JOIN feeds f ON f.id = e.feed_id"""
_STATES = "SELECT guid, id, content_hash FROM entries WHERE feed_id = ? AND guid IN (SELECT value FROM json_each(?))"
_INSERT = ("INSERT INTO entries (feed_id, guid, url, title, published, published_raw, date_flag, updated,"
           " first_seen, last_changed, text, feed_text, article_text, dateline, credits, sources, boilerplate,"
           " words, content_hash, unspaced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE = ("UPDATE entries SET url = ?, title = ?, updated = ?, last_changed = ?, text = ?, feed_text = ?,"
           " article_text = ?, dateline = ?, credits = ?, sources = ?, boilerplate = ?, words = ?,"
           " content_hash = ?, unspaced = ? WHERE id = ?")
# Scripts written without spaces between words (schema.UNSPACED_CLASS): a word of the unicode61
# tokenizer is a whole run of them, so a search term holding one is searched as a substring.
_UNSPACED = re.compile(UNSPACED_CLASS)
_WORDLIKE = re.compile(r"\w")
_HIT = """SELECT e.id AS id, f.name AS feed, e.title AS title, e.url AS url,
    coalesce(e.published, e.first_seen) AS published, {snippet} AS snippet, r.original_id AS original_id,
    (SELECT count(*) FROM reposts r2 WHERE r2.original_id = e.id) AS copies, {text} AS text
    FROM {source} JOIN feeds f ON f.id = e.feed_id LEFT JOIN reposts r ON r.copy_id = e.id
    WHERE {where} ORDER BY {order} LIMIT ?"""


def _unspaced(title: str | None, text: str | None) -> int:
    """1 when the entry holds a character of a script written without spaces (entries.unspaced)."""
    if (title or "").isascii() and (text or "").isascii():  # those scripts are not ASCII (a C scan, not a regex)
        return 0
    return int(bool(_UNSPACED.search(title or "") or _UNSPACED.search(text or "")))


def _names_json(names: tuple[str, ...]) -> str:
    return json.dumps(names) if names else "[]"


def _entry(row: Sequence[Any]) -> StoredEntry:
    return StoredEntry(id=row[0], feed_id=row[1], feed_name=row[2], role=row[3], guid=row[4], url=row[5],
                       title=row[6], published=from_db(row[7]), first_seen=from_db(row[8]) or utcnow(),
                       text=row[9], dateline=row[10], credits=_names(row[11]), sources=_names(row[12]),
                       credit_names=_credit_names(row[13], row[2], row[14]), feed_title=row[14],
                       boilerplate=_names(row[15]))


def _states(conn: sqlite3.Connection, feed_id: int, guids: list[str]) -> dict[str, tuple[int, str | None]]:
    return {g: (i, h) for g, i, h in conn.execute(_STATES, (feed_id, json.dumps(guids)))}


def _content_hashes(conn: sqlite3.Connection, feed_id: int, guids: list[str]) -> dict[str, str]:
    return {g: h for g, (_, h) in _states(conn, feed_id, guids).items() if h is not None}


def stored_content_hashes(path: str, feed_id: int, guids: list[str]) -> dict[str, str]:
    """``store.entries.content_hashes`` for a worker process, through a read-only connection opened
    for the call. Never raises: a store it cannot read gives {} (every entry is then prepared as
    new, and the writer, which checks again, finds those it already has)."""
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


class Entries:
    """The ``entries`` table (the matcher's hot path: hand-written SQL) and ``entries_fts``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._added = False  # this transaction stored entries (for the full-text index)

    # -- the store's transaction ------------------------------------------------------------

    def begin(self) -> None:
        self._added = False

    def before_commit(self) -> None:
        if self._added:
            self._catch_up_text(FTS_BATCH)

    # -- writes (inside a transaction) ------------------------------------------------------

    def insert(self, feed_id: int, entry: ParsedEntry, text: EntryText, content_hash: str, first_seen: datetime,
               feed_text: str | None = None, article_text: str | None = None) -> int:
        cur = self._store.conn.execute(_INSERT, (
            feed_id, entry.guid, entry.url, entry.title, to_db(entry.published), entry.published_raw,
            entry.date_flag, to_db(entry.updated), to_db(first_seen), to_db(first_seen), text.text, feed_text,
            article_text, text.dateline, _names_json(text.credits), _names_json(text.sources),
            _names_json(text.boilerplate), text.words, content_hash, _unspaced(entry.title, text.text)))
        self._added = True
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def update(self, entry_id: int, entry: ParsedEntry, text: EntryText, content_hash: str, changed: datetime,
               feed_text: str | None = None, article_text: str | None = None) -> None:
        self._store.conn.execute(_UPDATE, (
            entry.url, entry.title, to_db(entry.updated), to_db(changed), text.text, feed_text, article_text,
            text.dateline, _names_json(text.credits), _names_json(text.sources), _names_json(text.boilerplate),
            text.words, content_hash, _unspaced(entry.title, text.text), entry_id))

    def set_content_hash(self, entry_id: int, content_hash: str) -> None:
        self._store.conn.execute("UPDATE entries SET content_hash = ? WHERE id = ?", (content_hash, entry_id))

    def mark_update_of(self, entry_id: int, earlier_id: int) -> None:
        self._store.conn.execute("UPDATE entries SET update_of = ? WHERE id = ?", (earlier_id, entry_id))

    # -- reads ------------------------------------------------------------------------------

    def state(self, feed_id: int, guid: str) -> tuple[int, str | None] | None:
        """(id, content hash) of the feed's entry with that guid, if stored."""
        with self._store.reading() as db:
            row = db.conn.execute("SELECT id, content_hash FROM entries WHERE feed_id = ? AND guid = ?",
                                  (feed_id, guid)).fetchone()
        return (row[0], row[1]) if row else None

    def states(self, feed_id: int, guids: list[str]) -> dict[str, tuple[int, str | None]]:
        """``state`` of each of ``guids`` the feed has stored: {guid: (id, content hash)}, one query."""
        with self._store.reading() as db:
            return _states(db.conn, feed_id, guids)

    def content_hashes(self, feed_id: int, guids: list[str]) -> dict[str, str]:
        """{guid: content hash} of those of ``guids`` the feed has stored (a poll's entries, one query)."""
        with self._store.reading() as db:
            return _content_hashes(db.conn, feed_id, guids)

    def article_text_for_url(self, url: str) -> str | None:
        with self._store.reading() as db:
            row = db.conn.execute("SELECT article_text FROM entries WHERE url = ? AND article_text IS NOT NULL"
                                  " LIMIT 1", (url,)).fetchone()
        return row[0] if row else None

    def get_many(self, ids: Iterable[int]) -> dict[int, StoredEntry]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._store.conn.execute(f"{_ENTRY_SELECT} WHERE e.id IN ({marks})", ids).fetchall()
        return {r[0]: _entry(r) for r in rows}

    def get(self, entry_id: int) -> StoredEntry:
        found = self.get_many([entry_id])
        if entry_id not in found:
            raise StoreError(f"no entry with id {entry_id}")
        return found[entry_id]

    # -- the full-text indexes --------------------------------------------------------------

    def search(self, text: str, limit: int, fts: bool = False) -> list[dict[str, Any]]:
        """``search_entries`` on this store (the indexes as they are: ``index_text`` catches up)."""
        return search_entries(self._store, text, limit, fts)

    def index_text(self) -> int:
        """Bring the full-text index (``entries_fts``) up to date now; returns the entries indexed."""
        with self._store.transaction():
            return self._catch_up_text(1)

    def _catch_up_text(self, at_least: int) -> int:
        """Index the entries stored since the last catch-up, when at least ``at_least`` wait."""
        conn = self._store.conn
        try:
            upto, top = conn.execute("SELECT fts_upto, (SELECT coalesce(max(id), 0) FROM entries)"
                                     " FROM index_state").fetchone()
            if top - upto < at_least:
                return 0
            cur = conn.execute("INSERT INTO entries_fts (rowid, title, text)"
                               " SELECT id, title, text FROM entries WHERE id > ? ORDER BY id", (upto,))
            conn.execute("INSERT INTO entries_trigram (rowid, title, text)"
                         " SELECT id, title, text FROM entries_unspaced WHERE id > ? ORDER BY id", (upto,))
            conn.execute("UPDATE index_state SET fts_upto = ?", (top,))
        except sqlite3.Error as e:
            if "no such column: fts_upto" in str(e):  # before migration 6
                return 0
            raise StoreError(f"cannot update the full-text index of {self._store.path}: {e}") from e
        return cur.rowcount


# -- search -----------------------------------------------------------------------------------------

def _phrase(term: str) -> str:
    """A term as an FTS5 string: its characters searched as they are, whatever FTS5 syntax they hold."""
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_terms(text: str) -> list[str]:
    """The user's words that hold a letter or digit (a lone quote or dash is nothing to search)."""
    return [w for w in text.split() if _WORDLIKE.search(w)]


def _word_query(match: str) -> tuple[str, list[Any]]:
    return _HIT.format(snippet="snippet(entries_fts, 1, '[', ']', '…', 14)", text="''",
                       source="entries_fts JOIN entries e ON e.id = entries_fts.rowid", where="entries_fts MATCH ?",
                       order="entries_fts.rank, e.id"), [match]


def _substring_query(terms: list[str]) -> tuple[str, list[Any]]:
    """Terms in scripts written without spaces as substrings: through the trigram index when 3
    characters or more, by a scan (LIKE) when shorter (a trigram index cannot hold them); the other
    terms as words, through the word index."""
    unspaced = [t for t in terms if _UNSPACED.search(t)]
    long, short = [t for t in unspaced if len(t) >= 3], [t for t in unspaced if len(t) < 3]
    words = [t for t in terms if t not in unspaced]
    where = ["(e.title LIKE ? ESCAPE '\\' OR e.text LIKE ? ESCAPE '\\')"] * len(short)
    params: list[Any] = [p for t in short for p in (_like(t), _like(t))]
    if words:
        where.append("e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
        params.append(" ".join(_phrase(t) for t in words))
    if not long:  # a scan of the flagged entries alone (a partial index lists them)
        return _HIT.format(snippet="''", text="e.text", source="entries e",
                           where=" AND ".join(["e.unspaced = 1", *where]),
                           order="coalesce(e.published, e.first_seen) DESC, e.id"), params
    return _HIT.format(snippet="snippet(entries_trigram, 1, '[', ']', '…', 24)", text="e.text",
                       source="entries_trigram JOIN entries e ON e.id = entries_trigram.rowid",
                       where=" AND ".join(["entries_trigram MATCH ?", *where]),
                       order="entries_trigram.rank, e.id"), [" ".join(_phrase(t) for t in long), *params]


def _cut(text: str, terms: list[str], width: int = 24) -> str:
    """A snippet around the first of ``terms`` found in ``text`` (for matches no index highlighted)."""
    low = text.lower()
    found = sorted((low.find(t.lower()), t) for t in terms if t.lower() in low)
    if not found:
        return text[:width] + ("…" if len(text) > width else "")
    i, t = found[0]
    start, end = max(0, i - width // 2), min(len(text), i + len(t) + width // 2)
    return (("…" if start else "") + text[start:i] + f"[{text[i:i + len(t)]}]" + text[i + len(t):end]
            + ("…" if end < len(text) else ""))


def search_entries(store: Store, text: str, limit: int, fts: bool = False) -> list[dict[str, Any]]:
    """Entries matching ``text``, best first: its words (quoted: searched as words, whatever FTS5
    syntax they hold), a word in a script written without spaces (CJK, Thai, ...) as a substring;
    ``fts``: ``text`` is an FTS5 query of the word index (AND, OR, NEAR, prefix*)."""
    terms = search_terms(text)
    if fts:
        sql, params = _word_query(text)
    elif not terms:
        return []
    elif any(_UNSPACED.search(t) for t in terms):
        sql, params = _substring_query(terms)
    else:
        sql, params = _word_query(" ".join(_phrase(t) for t in terms))
    rows = store.query(sql, [*params, int(limit)])
    for r in rows:  # a match no index highlighted (in the title, or by LIKE): cut around it
        text = r.pop("text")
        if not r["snippet"] and text:
            r["snippet"] = _cut(" ".join(text.split()), terms)
    return rows
