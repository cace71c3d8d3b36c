"""A worker process's view of the boilerplate each feed has learned (``detect.boiler``).

The writer learns each feed's recurring lines in the order its entries arrive, and strips them
before an entry is fingerprinted (``record.pipeline``); fingerprinting the stripped text again,
and looking it up in the index again, cost the writer a fifth of an entry's time where feeds
repeat lines. A worker that prepares entries ahead of the writer reads what each feed had learned
when the store last changed, and strips those lines itself (``detect.prepare.prepare(remove=)``).
The writer checks each entry against what the feed has learned by then (``boiler.removed``): the
same lines, and the worker's fingerprint, layout and index rows stand; other lines (the view was
read before the feed learned or forgot one), and the writer strips the entry's text as it would
have without the view. So the view changes the writer's cost, never its result.
"""

from __future__ import annotations

import sqlite3

from relaywatch.detect import boiler
from relaywatch.store.base import read_only_connection
from relaywatch.store.boiler import LearnedRows, data_version, read_learned


class LearnedView:
    """What each feed had learned when the store last changed, read again when it changes. Never
    raises: a store it cannot read strips nothing (the writer then strips)."""

    def __init__(self, path: str) -> None:
        try:
            self.conn: sqlite3.Connection | None = read_only_connection(path)
        except (sqlite3.Error, ValueError):
            self.conn = None
        self._version: int | None = None
        self._removable: dict[str, frozenset[int]] = {}

    def removable(self, feed_name: str) -> frozenset[int]:
        """The blocks the writer would strip from an entry of this feed, as of the last commit."""
        if self.conn is None:
            return frozenset()
        try:
            version = data_version(self.conn)
            if version != self._version:
                self._removable = removable_by_feed(read_learned(self.conn))
                self._version = version
        except sqlite3.Error:
            return frozenset()
        return self._removable.get(feed_name, frozenset())

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def removable_by_feed(rows: LearnedRows) -> dict[str, frozenset[int]]:
    """Each feed's removable blocks (``boiler.removable``): its learned keys, less the wires' standard lines."""
    protected: frozenset[int] = frozenset().union(*(
        boiler.Learning.of(boiler.Seen.from_blobs(r.serial, r.story, r.keys, r.long) for r in window).standard
        for window in rows.wire_windows.values()))
    return {name: boiler.removable_keys(keys, role, protected) for name, (role, keys) in rows.feeds.items()}
