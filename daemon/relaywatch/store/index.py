"""The fingerprint index: where the writer stores fingerprints and looks texts up
(``FingerprintIndex``, the store's ``index``), and where ingest workers read it (``IndexReader``).

New fingerprints wait in ``fingerprint_pending`` and in memory (``pending``) until they are merged
into ``fingerprint_index`` in bulk. An ingest's writer (matching and SQLite, one process) is its
bottleneck, and the look-up of each new text's fingerprints in the index was a quarter of its time
(0.20 of 0.78 ms an entry). The worker processes that prepare the text read those rows instead,
through read-only connections of their own, with the index version they saw; the writer then adds
what it holds in memory: the entries merged since that version and the pending ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from relaywatch.models import IndexRows
from relaywatch.store.base import read_only_connection
from relaywatch.store.pending import FLUSH_ENTRIES, PendingIndex, from_blob, to_blob

if TYPE_CHECKING:
    from relaywatch.store.core import Store

# Merges into the index whose entries an ingest's writer keeps in memory (``store.index.merges_kept``,
# ~25,000 fingerprints each) for the look-ups its workers made before them (``IndexRows``): a worker
# prepares up to two windows of lines ahead of the writer, ~4 merges; an older look-up is made again.
RECENT_MERGES = 8

# The index rows of some hashes (?1, a JSON list), at most the ?2 oldest of each; d.n: how many that is
# (the rarity of the hash). "LIMIT -1" keeps SQLite from folding d into the join, which would count
# each hash's entries once per row (3x slower); it works where "AS MATERIALIZED" (3.35+) does not.
_CANDIDATES = ("WITH d(h, n) AS (SELECT j.value, (SELECT count(*) FROM (SELECT 1 FROM fingerprint_index"
               " WHERE hash = j.value LIMIT ?2)) FROM json_each(?1) j LIMIT -1)"
               " SELECT {} FROM d JOIN fingerprint_index f ON f.hash = d.h AND f.entry_id <= CASE WHEN d.n < ?2"
               " THEN 9223372036854775807 ELSE (SELECT entry_id FROM fingerprint_index WHERE hash = d.h"
               " ORDER BY entry_id LIMIT 1 OFFSET ?2 - 1) END")

# the rows alone (a worker's read, ``IndexReader``, and the writer's of hashes pending entries hold):
# each hash's at most ?2 oldest, bounded by its ?2-th oldest entry when it has that many (one
# search a hash fewer than counting them first)
_ROWS = ("SELECT j.value, f.entry_id FROM json_each(?1) j JOIN fingerprint_index f ON f.hash = j.value"
         " AND f.entry_id <= coalesce((SELECT entry_id FROM fingerprint_index WHERE hash = j.value"
         " ORDER BY entry_id LIMIT 1 OFFSET ?2 - 1), 9223372036854775807)")


class FingerprintIndex:
    """``store.index``: the writer's side of the fingerprint index (the matcher's hot path:
    hand-written SQL). The store calls its transaction hooks (``begin`` ... ``after_commit``)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending = PendingIndex()
        self._pending_version: int | None = None  # index_state.version it was loaded at (None: load it)
        self._pending_changed = False  # this transaction stored fingerprints
        # the entries of the last merges, each with the index version that first shows it; the
        # oldest version that these complete (None: none); updated entries, with the version that
        # first shows their new rows (their old rows read before that are out of date)
        self._merged: list[tuple[int, PendingIndex]] = []
        self._merged_floor: int | None = None
        self._replaced: dict[int, int] = {}
        # how many merges to keep so (an ingest with worker processes sets it; the daemon keeps none)
        self.merges_kept = 0

    @property
    def conn(self) -> sqlite3.Connection:
        return self._store.conn

    # -- the store's transaction ------------------------------------------------------------

    def begin(self) -> None:
        self._pending_changed = False

    def sync(self) -> None:
        """At the start of a transaction: load the pending fingerprints if another store changed them."""
        self._sync_pending()

    def before_commit(self) -> None:
        if self._pending_changed:
            self._close_pending()

    def after_commit(self) -> None:
        if self._pending_changed and self._pending_version is not None:
            self._pending_version += 1

    def rolled_back(self) -> None:
        self._pending_version = None  # the pending map may hold what was undone: load it again
        self._forget_merges(None)

    def part_undone(self) -> None:
        """A savepoint was rolled back: what it stored is gone from the database."""
        if self._pending_changed:
            self._load_pending(self._pending_version)

    # -- writes and look-ups ----------------------------------------------------------------

    def save_fingerprint(self, entry_id: int, method: str, shingles: int, fingerprints: np.ndarray,
                         tokens: int, replaces: np.ndarray | None = None) -> None:
        """Store an entry's fingerprints: pending until the next merge into the index (``fingerprint_pending``).
        ``replaces``: the fingerprints the entry had before (an updated entry), taken out of the index."""
        with self._store.transaction():
            if replaces is not None and self._pending_version is not None:
                self._replaced[entry_id] = self._pending_version + 1  # its rows read before are out of date
                for _, merged in self._merged:  # and so are its fingerprints merged before
                    merged.remove(entry_id)
            if replaces is not None and len(replaces):
                self.conn.executemany("DELETE FROM fingerprint_index WHERE hash = ? AND entry_id = ?",
                                      ((h, entry_id) for h in replaces.tolist()))
            self.conn.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?, ?)",
                              (entry_id, method, shingles, len(fingerprints), tokens))
            self.conn.execute("INSERT OR REPLACE INTO fingerprint_pending VALUES (?, ?)",
                              (entry_id, to_blob(fingerprints)))
            self._pending.add(entry_id, fingerprints)
            self._pending_changed = True

    def flush(self) -> int:
        """Merge every pending fingerprint into ``fingerprint_index`` now; returns the entries merged."""
        with self._store.transaction():
            n = len(self._pending)
            if n:
                self._merge_pending()
                self._pending_changed = True
        return n

    def _sync_pending(self) -> None:
        """At the start of a transaction: load the pending fingerprints if another store changed them."""
        try:
            version = self.conn.execute("SELECT version FROM index_state").fetchone()[0]
        except sqlite3.OperationalError:  # before migration 5 (migrating, or a reader of an old file)
            self._pending.clear()
            self._pending_version = None
            self._forget_merges(None)
            return
        if version != self._pending_version:
            self._load_pending(version)

    def _load_pending(self, version: int | None) -> None:
        self._pending.clear()
        for entry_id, blob in self.conn.execute("SELECT entry_id, hashes FROM fingerprint_pending ORDER BY entry_id"):
            self._pending.add(entry_id, from_blob(blob))
        self._pending_version = version
        self._forget_merges(version)

    def _close_pending(self) -> None:
        """Before the commit of a transaction that stored fingerprints: merge them when enough wait."""
        if len(self._pending) >= FLUSH_ENTRIES:
            self._merge_pending()
        self.conn.execute("UPDATE index_state SET version = version + 1")

    def _merge_pending(self) -> None:
        # sorted: the B-tree is walked once, in key order, for all of them
        self.conn.executemany("INSERT OR IGNORE INTO fingerprint_index (hash, entry_id) VALUES (?, ?)",
                              self._pending.rows())
        self.conn.execute("DELETE FROM fingerprint_pending")
        if self._pending_version is None or not self.merges_kept:
            # rows read from the version this transaction commits on need no merged entries
            self._forget_merges(None if self._pending_version is None else self._pending_version + 1)
            self._pending.clear()
            return
        # readers see the merge from the version this transaction commits
        self._merged.append((self._pending_version + 1, self._pending))
        self._pending = PendingIndex()
        if len(self._merged) > self.merges_kept:
            floor = self._merged_floor = self._merged.pop(0)[0]
            self._replaced = {e: v for e, v in self._replaced.items() if v > floor}

    def _forget_merges(self, floor: int | None) -> None:
        self._merged, self._merged_floor, self._replaced = [], floor, {}

    def _merged_since(self, version: int) -> list[PendingIndex] | None:
        """The entries merged into the index after ``version`` (None: not all of them are known)."""
        if self._merged_floor is None or self._pending_version is None \
                or not self._merged_floor <= version <= self._pending_version:
            return None
        return [merged for v, merged in self._merged if v > version]

    def candidates(self, fingerprints: np.ndarray, per_hash: int, exclude: int | None = None,
                   indexed: IndexRows | None = None) -> dict[int, tuple[int, float]]:
        """Entries sharing fingerprints with a text: {entry id: (shared fingerprints, their rarity)};
        ``exclude``: the text's own entry, when stored already; ``indexed``: the index's rows of
        these fingerprints as a worker read them (``IndexReader``), to which the entries merged
        since and those pending are added here instead of reading the index again.

        Each fingerprint contributes at most its ``per_hash`` oldest entries, so a phrase that
        thousands of stories share costs no more than a rare one (the original of a story is the
        oldest entry holding its fingerprints, so it is never the one left out). Rarity is the sum,
        over the shared fingerprints, of 1 / the entries counted for it (as in IDF): a sentence that
        many stories carry (a relay's stock line) weighs little beside a phrase of one story.
        """
        if not len(fingerprints):
            return {}
        hashes = [int(h) for h in fingerprints.tolist()]
        with self._store.lock:
            if not self._store.writing:  # outside the writer's transaction: what was committed since
                self._sync_pending()
            if indexed is not None and indexed.per_hash == per_hash:
                since = self._merged_since(indexed.version)
                found = self._hits_from(indexed, since, hashes, per_hash, exclude) if since is not None else None
                if found is not None:
                    return found
            waiting = self._pending.waiting(hashes, exclude)
            # hashes no pending entry holds: counted by SQLite (at a million entries ~3,000 rows)
            rest = [h for h in hashes if h not in waiting] if waiting else hashes
            hits = {eid: (n, w) for eid, n, w in self.conn.execute(
                _CANDIDATES.format("f.entry_id, count(*), sum(1.0 / d.n)") + " GROUP BY f.entry_id",
                (json.dumps(rest), per_hash))} if rest else {}
            if waiting:  # index rows and pending entries of a hash share its cap: their rows by hash
                rows = self.conn.execute(_ROWS, (json.dumps(list(waiting)), per_hash)).fetchall()
                for eid, (n, w) in self._pending.hits_for(waiting, rows, per_hash).items():
                    n0, w0 = hits.get(eid, (0, 0.0))
                    hits[eid] = (n0 + n, w0 + w)
            if exclude is not None:
                hits.pop(exclude, None)
            return hits

    def _hits_from(self, indexed: IndexRows, since: list[PendingIndex], hashes: list[int], per_hash: int,
                   exclude: int | None) -> dict[int, tuple[int, float]] | None:
        """``candidates`` from index rows read earlier, the entries merged since, and the pending ones.
        The rows read earlier of an entry updated since are out of date: left out; None when that
        leaves a hash that had its ``per_hash`` rows with fewer (the next oldest was not read)."""
        waiting = self._pending.waiting(hashes, exclude)
        for merged in since:  # counted like the index's rows, ``exclude`` too (then left out)
            for h, ids in merged.waiting(hashes).items():
                waiting.setdefault(h, []).extend(ids)
        rows: list[list[int]] = indexed.rows.tolist()
        if self._replaced:
            replaced = self._replaced
            kept = [[h, e] for h, e in rows if replaced.get(e, -1) <= indexed.version]
            if len(kept) < len(rows):
                read = Counter(h for h, _ in rows)
                if any(read[h] >= per_hash for h, e in rows if replaced.get(e, -1) > indexed.version):
                    return None
                rows = kept
        for h, _ in rows:
            waiting.setdefault(h, [])
        hits = PendingIndex.hits_for(waiting, rows, per_hash)
        if exclude is not None:
            hits.pop(exclude, None)
        return hits


READER_CACHE_KIB = 16_384  # page cache of a worker's read-only connection
# ...which reads the index's pages through a memory map, not a read and a copy into that cache a page:
# a text's rows 240 -> 190 µs in the worker at 48,000 entries (bench/throughput.py's set). The map
# holds pages of the operating system's file cache, which reads fill anyway (its resident size
# counts them); past this size of file the pages are read as before.
READER_MMAP_BYTES = 256 * 1024 * 1024


class IndexReader:
    """A read-only connection to a store's fingerprint index. Never raises: a store it cannot read
    gives no rows (None), and the writer then looks the text up itself."""

    def __init__(self, path: str, per_hash: int) -> None:
        self.per_hash = per_hash
        self.conn: sqlite3.Connection | None = None
        try:
            conn = read_only_connection(path)
            conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
            self.conn = conn
        except (sqlite3.Error, ValueError):
            self.conn = None

    def rows(self, fingerprints: np.ndarray) -> IndexRows | None:
        """The index rows of these fingerprints (at most ``per_hash`` oldest each) and the version
        of the index they were read at, both in one read transaction."""
        if self.conn is None or not len(fingerprints):
            return None
        try:
            self.conn.execute("BEGIN")
            try:
                version = self.conn.execute("SELECT version FROM index_state").fetchone()[0]
                # flat into numpy as SQLite gives them: no list of rows, no numpy reading its shape
                rows = np.fromiter(chain.from_iterable(self.conn.execute(
                    _ROWS, (json.dumps(fingerprints.tolist()), self.per_hash))), dtype=np.int64)
            finally:
                self.conn.execute("COMMIT")
        except sqlite3.Error:
            return None
        return IndexRows(int(version), self.per_hash, rows.reshape(-1, 2))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
