"""Fingerprints of recent entries not yet merged into ``fingerprint_index``.

``fingerprint_index`` is a B-tree keyed by a random 64-bit hash: each new fingerprint lands on a
page of its own, so storing one entry's ~50 fingerprints dirtied ~50 pages that its commit then
wrote out (on polls of 20 entries, 0.75 of the writer's 1.8 ms an entry). New fingerprints are
therefore kept as one blob per entry in ``fingerprint_pending`` (a sequential write, in the entry's
own transaction, so a crash loses nothing) and in memory as a map from hash to entry ids, which
``Store.candidates`` reads beside the index. Every ``FLUSH_ENTRIES`` entries they are merged into
the index in one sorted pass (each index page touched once for many entries) and their rows
deleted (the pages are reused by the next ones). ``index_state.version`` counts the transactions
that changed pending rows: a store that finds another number than its own (another process
wrote) loads them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

FLUSH_ENTRIES = 500  # pending entries merged into the index at once (about 25,000 rows, ~5 MB in memory)


def to_blob(hashes: np.ndarray) -> bytes:
    return np.asarray(hashes, dtype="<i8").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<i8")


class PendingIndex:
    """{hash: entry ids} of the pending entries; not thread-safe (the store's lock guards it).

    A hash that one pending entry holds (nearly all of them) maps to that entry's id, a hash that
    several hold to a list of their ids: adding an entry is then a dict update done by the
    interpreter's C code, not a Python loop making a list per hash. Storing 500 entries of 45
    fingerprints and merging them took 20 µs an entry to add and 22 ms to sort, with a list per hash
    and tuples built for ``executemany`` (much of it the garbage collector walking those lists).
    """

    def __init__(self) -> None:
        self.by_hash: dict[int, int | list[int]] = {}
        self.entries: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry_id: int, hashes: np.ndarray) -> None:
        if entry_id in self.entries:
            self.remove(entry_id)
        arr = np.asarray(hashes, dtype=np.int64)
        self.entries[entry_id] = arr
        values = arr.tolist()
        by_hash = self.by_hash
        held = {h: by_hash[h] for h in by_hash.keys() & values}  # hashes other pending entries hold
        by_hash.update(dict.fromkeys(values, entry_id))
        for h, ids in held.items():
            if isinstance(ids, list):
                ids.append(entry_id)
                by_hash[h] = ids
            else:
                by_hash[h] = [ids, entry_id]

    def remove(self, entry_id: int) -> None:
        hashes = self.entries.pop(entry_id, None)
        if hashes is None:
            return
        by_hash = self.by_hash
        for h in hashes.tolist():
            ids = by_hash.get(h)
            if isinstance(ids, list):
                if entry_id in ids:
                    ids.remove(entry_id)
                if len(ids) == 1:
                    by_hash[h] = ids[0]
                elif not ids:
                    del by_hash[h]
            elif ids == entry_id:
                del by_hash[h]

    def clear(self) -> None:
        self.by_hash.clear()
        self.entries.clear()

    def rows(self) -> Iterator[tuple[int, int]]:
        """(hash, entry id) of every pending fingerprint, sorted: the order of the index's keys."""
        if not self.entries:
            return iter(())
        ids = sorted(self.entries)
        arrays = [self.entries[i] for i in ids]
        hashes = np.concatenate(arrays)
        owners = np.repeat(np.array(ids, dtype=np.int64), [len(a) for a in arrays])
        order = np.argsort(hashes, kind="stable")  # stable: a hash's entries stay in id order
        return zip(hashes[order].tolist(), owners[order].tolist(), strict=True)

    def waiting(self, hashes: list[int], exclude: int | None = None) -> dict[int, list[int]]:
        """{hash: pending entry ids} for those of ``hashes`` that pending entries other than
        ``exclude`` hold (a new entry's own fingerprints are pending when it is matched)."""
        by_hash = self.by_hash
        out: dict[int, list[int]] = {}
        for h in by_hash.keys() & hashes:
            ids = by_hash[h]
            if isinstance(ids, list):
                others = [e for e in ids if e != exclude]
                if others:
                    out[h] = others
            elif ids != exclude:
                out[h] = [ids]
        return out

    @staticmethod
    def hits_for(waiting: dict[int, list[int]], indexed: Iterable[Sequence[int]],
                 per_hash: int) -> dict[int, tuple[int, float]]:
        """{entry id: (shared fingerprints, their rarity)} for the hashes of ``waiting`` (pending
        entries by hash), given the index's (hash, entry id) rows of those hashes; each hash counts
        at most its ``per_hash`` oldest (lowest id) entries, as the index query does, and weighs
        1 / the entries it counts."""
        from_index: dict[int, list[int]] = {}
        for h, eid in indexed:
            from_index.setdefault(h, []).append(eid)
        hits: dict[int, tuple[int, float]] = {}
        for h, pending in waiting.items():
            ids = from_index.get(h, []) + pending
            if len(ids) > per_hash:
                ids = sorted(set(ids))[:per_hash]
            weight = 1.0 / len(ids)
            for eid in ids:
                n, w = hits.get(eid, (0, 0.0))
                hits[eid] = (n + 1, w + weight)
        return hits
