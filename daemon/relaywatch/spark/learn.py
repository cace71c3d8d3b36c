"""Each feed's boilerplate learned as ``ingest`` learns it: per feed, in archive order, with
``detect.boiler``'s own functions, before the candidates are looked for.

``ingest``'s writer (``record.pipeline``) puts each new entry's blocks into its feed's window
(``boiler.learn``), then strips from its text the feed's learned blocks that no wire holds as its
standard text at that moment (``boiler.removable``, ``protected``: the union of the wires'
``Learning.standard``), and fingerprints the stripped text again. Here:

1. the wires' pass: per wire feed, in archive order, the same ``learn``; every change of its
   standard lines is an event (archive id, wire, its standard lines). The events come to the
   driver (a few wires; an event only when a wire's standard lines change) and become a
   ``Protected`` timeline: the protected lines as they stood before any archive id, exactly as
   ``ingest`` had them when it stored that entry;
2. the other feeds' pass: per feed, in archive order, ``learn`` then ``removable`` with the lines
   protected at that entry: the keys of its blocks to strip.

Only the blocks' keys and word counts travel (``detect.boiler.blocks`` of the clean text, made
when the entry is prepared), never texts: a feed of a million entries is one sequential task of
a million small rows (one core for the feed; ~10 µs an entry).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from relaywatch.detect import boiler

Event = tuple[int, str, list[int]]  # (archive id, wire, its standard lines after that entry)


@dataclass(frozen=True)
class Protected:
    """The union of the wires' standard lines over time: ``lines[i]`` from archive id ``ids[i]`` on."""

    ids: tuple[int, ...] = ()
    lines: tuple[frozenset[int], ...] = ()

    @staticmethod
    def of(events: Iterable[Event]) -> Protected:
        standard: dict[str, frozenset[int]] = {}
        ids, lines = [], []
        for entry_id, wire, keys in sorted(events):
            standard[wire] = frozenset(keys)
            ids.append(entry_id)
            lines.append(frozenset().union(*standard.values()))
        return Protected(tuple(ids), tuple(lines))

    def before(self, entry_id: int) -> frozenset[int]:
        """The lines protected when the entry of this archive id is stored (the wires' entries before it learned)."""
        i = bisect_left(self.ids, entry_id)
        return self.lines[i - 1] if i else frozenset()


def _blocks(keys: Sequence[int], words: Sequence[int]) -> boiler.Blocks:
    """An entry's blocks as ``learn`` reads them: their keys and words (the paragraphs stay behind)."""
    return boiler.Blocks(("",) * len(keys), tuple(keys), tuple(words))


def _by_feed(rows: Iterable[Any]) -> Iterator[tuple[str, int, boiler.Learning, boiler.Blocks]]:
    """Rows (feed, id, keys, words) sorted by feed then id: each entry learned by its feed's state."""
    feed, state = None, boiler.Learning()
    for name, entry_id, keys, words in rows:
        if name != feed:
            feed, state = name, boiler.Learning()
        b = _blocks(keys or (), words or ())
        boiler.learn(state, b)
        yield name, entry_id, state, b


def wire_events(rows: Iterable[Any]) -> Iterator[Event]:
    """A wires' partition (feed, id, keys, words; sorted): each change of a wire's standard lines."""
    last: dict[str, frozenset[int]] = {}
    for name, entry_id, state, _ in _by_feed(rows):
        if state.standard != last.get(name, frozenset()):
            last[name] = frozenset(state.standard)
            yield entry_id, name, sorted(state.standard)


def strip_keys(rows: Iterable[Any], roles: Mapping[str, str], protected: Protected) -> Iterator[tuple[int, list[int]]]:
    """Another feeds' partition (feed, id, keys, words; sorted): (id, keys of its blocks to strip)
    of each entry that has any."""
    for name, entry_id, state, b in _by_feed(rows):
        remove = boiler.removable(state, roles[name], protected.before(entry_id))
        keys = remove.intersection(b.keys)
        if keys:
            yield entry_id, sorted(keys)


def learned(spark: SparkSession, kept: DataFrame, roles: Mapping[str, str]) -> tuple[DataFrame, int]:
    """(id, strip): the keys of the blocks ``ingest`` would strip from each entry that has any; and
    the number of changes of the wires' standard lines (the events brought to the driver)."""
    wires = sorted(name for name, role in roles.items() if role == "wire")
    rows = kept.select("feed", "id", "bkeys", "bwords")
    is_wire = F.col("feed").isin(wires) if wires else F.lit(False)
    events = _per_feed(rows.where(is_wire)).rdd.mapPartitions(wire_events).collect()
    protected = Protected.of((int(i), str(w), list(k)) for i, w, k in events)
    out = _per_feed(rows.where(~is_wire)).rdd.mapPartitions(lambda it: strip_keys(it, roles, protected))
    return spark.createDataFrame(out, "id long, strip array<long>"), len(events)


def _per_feed(rows: DataFrame) -> DataFrame:
    return rows.repartition("feed").sortWithinPartitions("feed", "id")
