"""Each group of related entries replayed through ``record.pipeline.Pipeline``, as ``ingest`` stores it.

A task gets whole connected components of confirmed pairs, each sorted by archive id. It stores
them, in that order, in a small in-memory ``Store`` through the daemon's own pipeline and
matcher; only the index's answer comes from the job: ``ReplayIndex.candidates`` gives each new
entry the related candidates found by the shuffle (with what they share), in the order
``decide.shortlist`` ranks them, so ``assess`` and ``decide`` see what they see in ``ingest``.
Every few thousand entries (at a component's end) the store's rows are read out (``store.bulk``),
their ids put back to archive ids, and the store is dropped: a task's memory grows with its
largest component, not with its partition.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from relaywatch.detect import boiler
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import MatchParams
from relaywatch.detect.prepare import Prepared, prepare
from relaywatch.models import Feed, IndexRows
from relaywatch.record.matcher import Matcher
from relaywatch.record.pipeline import Pipeline
from relaywatch.spark.tasks import unpack_draft
from relaywatch.store import Store
from relaywatch.store.bulk import Column
from relaywatch.store.index import FingerprintIndex

STORE_ENTRIES = 2_000  # entries a replay store holds before its rows are read out (at a component's end)

FeedTable = Mapping[str, tuple[str, tuple[str, ...]]]  # name: (role, credit)


class ReplayIndex(FingerprintIndex):
    """The store's index, but its answer to a new entry's look-up is the one the job found for that
    entry in the whole archive (``hits``: archive id: [(candidate's archive id, shared, rarity)])."""

    def __init__(self, store: Store, hits: Mapping[int, list[tuple[int, int, float]]]) -> None:
        super().__init__(store)
        self.hits = hits
        self.queue: deque[int] = deque()  # archive ids of the entries about to be stored, in order
        self.to_local: dict[int, int] = {}
        self.to_archive: dict[int, int] = {}

    def save_fingerprint(self, entry_id: int, method: str, shingles: int, fingerprints: np.ndarray,
                         tokens: int, replaces: np.ndarray | None = None) -> None:
        if replaces is None and entry_id not in self.to_archive:  # a new entry: the next one queued
            archive_id = self.queue.popleft()
            self.to_local[archive_id], self.to_archive[entry_id] = entry_id, archive_id
        super().save_fingerprint(entry_id, method, shingles, fingerprints, tokens, replaces)

    def candidates(self, fingerprints: np.ndarray, per_hash: int, exclude: int | None = None,
                   indexed: IndexRows | None = None) -> dict[int, tuple[int, float]]:
        archive_id = self.to_archive.get(exclude) if exclude is not None else None
        if archive_id is None:
            return {}
        return {self.to_local[c]: (n, w) for c, n, w in self.hits.get(archive_id, ()) if c in self.to_local}


@dataclass
class _Batch:
    """The components a replay store holds: their lines, in order, and what the job found for them."""

    lines: list[tuple[int, bytes, list[int] | None]] = field(default_factory=list)  # (archive id, draft, strip)
    hits: dict[int, list[tuple[int, int, float]]] = field(default_factory=dict)


def replay_partition(rows: Iterable[Any], now: datetime, feeds: FeedTable, p: MatchParams,
                     columns: Mapping[str, list[Column]]) -> Iterator[tuple[Any, ...]]:
    """Rows (component, archive id, the entry cleaned (``tasks.pack_draft``), related candidates, keys of
    the blocks to strip: ``learn``),
    sorted by component then id, to
    output rows: the ``entries`` columns (``feed`` for ``feed_id``), ``fp_`` + the ``fingerprints``
    columns, ``hashes`` and ``link`` (the copy's ``reposts`` row, or None)."""
    batch, component = _Batch(), None
    for comp, entry_id, cleaned, found, strip in rows:
        if comp != component and len(batch.lines) >= STORE_ENTRIES:
            yield from _replay(batch, now, feeds, p, columns)
            batch = _Batch()
        component = comp
        batch.lines.append((entry_id, cleaned, strip))
        if found:
            batch.hits[entry_id] = [(int(c), int(n), float(w)) for c, n, w in found]
    if batch.lines:
        yield from _replay(batch, now, feeds, p, columns)


def _replay(batch: _Batch, now: datetime, feeds: FeedTable, p: MatchParams,
            columns: Mapping[str, list[Column]]) -> Iterator[tuple[Any, ...]]:
    with Store(":memory:") as store:
        index = ReplayIndex(store, batch.hits)
        store.index = index
        # its cache (128 MiB) holds a batch of STORE_ENTRIES; each feed's boilerplate was learned
        # over the feed's whole order (``learn``): the entries come stripped, nothing is learned again
        pipeline = Pipeline(store, Matcher(store, p), learn_boilerplate=False)
        known: dict[str, Feed] = {}
        items: list[tuple[Feed, Prepared]] = []
        hashes: dict[int, list[int]] = {}
        for entry_id, cleaned, strip in batch.lines:
            name, d = unpack_draft(cleaned)
            item = _stripped(prepare(d), strip)
            if name not in known:
                role, credit = feeds[name]
                known[name] = store.feeds.ensure(name, role, credit)
            items.append((known[name], item))
            index.queue.append(entry_id)
            hashes[entry_id] = [int(h) for h in item.fp.winnowed.tolist()]
        pipeline.ingest_many(items, now)
        names = {f.id: f.name for f in known.values()}
        yield from _rows_out(store, index.to_archive, names, hashes, columns)


def _stripped(item: Prepared, strip: list[int] | None) -> Prepared:
    """The entry without the blocks its feed learned (``learn``), fingerprinted again, as ``ingest``'s
    writer stores it (``detect.boiler.strip``)."""
    if not strip:
        return item
    clean = boiler.strip(item.clean, item.blocks or boiler.blocks(item.clean.text), frozenset(strip))
    if clean is None:
        return item
    _ = clean.words
    return replace(item, clean=clean, fp=fpmod.fingerprint(clean.text), index_rows=None, layout=None, blocks=None)


def _rows_out(store: Store, to_archive: Mapping[int, int], names: Mapping[int, str],
              hashes: Mapping[int, list[int]], columns: Mapping[str, list[Column]]) -> Iterator[tuple[Any, ...]]:
    fps = {r["entry_id"]: r for r in store.bulk.rows("fingerprints")}
    links = {r["copy_id"]: r for r in store.bulk.rows("reposts")}
    link_cols = [c for c in columns["reposts"] if c.name != "id"]
    for row in store.bulk.rows("entries"):
        local = row["id"]
        out: list[Any] = [names[row[c.name]] if c.references == "feeds" else _archive(row[c.name], c, to_archive)
                          for c in columns["entries"]]
        fp = fps.get(local, {})
        out += [fp.get(c.name) for c in columns["fingerprints"] if c.name != "entry_id"]
        out.append(hashes[to_archive[local]])
        link = links.get(local)
        out.append(None if link is None else tuple(_archive(link[c.name], c, to_archive) for c in link_cols))
        yield tuple(out)


def _archive(value: Any, c: Column, to_archive: Mapping[int, int]) -> Any:
    """A value of a column, an entry's id put back to its archive id."""
    if value is not None and (c.references == "entries" or (c.name == "id" and c.references is None)):
        return to_archive[value]
    return value
