"""``store.boiler``: what each feed has learned of its boilerplate (``detect.boiler``).

Two tables. ``boilerplate_window``: one row per entry of a feed's window (its serial in the feed,
the entry, the story it belongs to, the keys of its paragraphs and which of them are long, as
blobs); at least the last ``keep`` rows of a feed are kept (at most twice that: the older ones are
dropped every ``keep`` entries, not one by one), which is all a restart needs to rebuild what was
learned exactly. ``boilerplate``: the blocks a feed has learned, for people to read (the key,
how many distinct stories of the window carry it, when it was learned and last seen, and the text
of one of its paragraphs). Both are written in the transaction that stores the entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from relaywatch.store.base import to_db

if TYPE_CHECKING:
    from relaywatch.store.core import Store


@dataclass(frozen=True)
class WindowRow:
    serial: int
    story: int
    keys: bytes
    long: bytes


class Boilerplate:
    """The ``boilerplate_window`` and ``boilerplate`` tables."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def window(self, feed_id: int, size: int) -> list[WindowRow]:
        """The feed's last ``size`` window rows, oldest first."""
        with self._store.reading() as db:
            rows = db.conn.execute("SELECT serial, story, keys, long FROM boilerplate_window WHERE feed_id = ?"
                                   " ORDER BY serial DESC LIMIT ?", (feed_id, size)).fetchall()
        return [WindowRow(*r) for r in reversed(rows)]

    def add(self, feed_id: int, entry_id: int, row: WindowRow, keep: int) -> None:
        """Add an entry's row to the feed's window; every ``keep`` rows, drop those before its last ``keep``
        (one statement an entry fewer: 11 µs an entry of the writer's time where the two took 18)."""
        conn = self._store.conn
        conn.execute("INSERT OR REPLACE INTO boilerplate_window (feed_id, serial, entry_id, story, keys, long)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (feed_id, row.serial, entry_id, row.story, row.keys, row.long))
        if row.serial % keep == 0:
            conn.execute("DELETE FROM boilerplate_window WHERE feed_id = ? AND serial <= ?",
                         (feed_id, row.serial - keep))

    def save(self, feed_id: int, stories: Mapping[int, int], samples: Mapping[int, str], now: datetime) -> None:
        """Blocks learned or seen again: their number of stories and last sighting (``now``); those
        new to the table take their sample from ``samples`` and ``now`` as when they were learned."""
        when = to_db(now)
        self._store.conn.executemany(
            "INSERT INTO boilerplate (feed_id, key, stories, learned_at, last_seen, sample) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_id, key) DO UPDATE SET stories = excluded.stories, last_seen = excluded.last_seen",
            [(feed_id, k, n, when, when, samples.get(k, "")) for k, n in stories.items()])

    def forget(self, feed_id: int, keys: Iterable[int]) -> None:
        """Blocks no longer learned (too few stories of the window carry them now)."""
        self._store.conn.executemany("DELETE FROM boilerplate WHERE feed_id = ? AND key = ?",
                                     [(feed_id, k) for k in keys])

    def learned(self, feed_id: int) -> list[dict[str, Any]]:
        """The feed's learned blocks, the most widespread first."""
        with self._store.reading() as db:
            rows = db.conn.execute("SELECT key, stories, learned_at, last_seen, sample FROM boilerplate"
                                   " WHERE feed_id = ? ORDER BY stories DESC, learned_at, key", (feed_id,)).fetchall()
        return [dict(zip(("key", "stories", "learned_at", "last_seen", "sample"), r, strict=True)) for r in rows]


@dataclass(frozen=True)
class LearnedRows:
    """What every feed has learned, as a worker process reads it: each feed's role and learned
    keys (by feed name), and the window rows of the wire feeds (their standard lines are counted
    from them), oldest first."""

    feeds: dict[str, tuple[str, frozenset[int]]]
    wire_windows: dict[int, list[WindowRow]]


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes whenever another connection has committed to the database."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def read_learned(conn: sqlite3.Connection) -> LearnedRows:
    """Every feed's learned keys and the wires' windows, in one read transaction."""
    conn.execute("BEGIN")
    try:
        names = conn.execute("SELECT id, name, role FROM feeds").fetchall()
        learned: dict[int, set[int]] = {}
        for feed_id, key in conn.execute("SELECT feed_id, key FROM boilerplate"):
            learned.setdefault(feed_id, set()).add(key)
        windows: dict[int, list[WindowRow]] = {}
        for feed_id, *row in conn.execute(
                "SELECT w.feed_id, w.serial, w.story, w.keys, w.long FROM boilerplate_window w"
                " JOIN feeds f ON f.id = w.feed_id WHERE f.role = 'wire' ORDER BY w.feed_id, w.serial"):
            windows.setdefault(feed_id, []).append(WindowRow(*row))
    finally:
        conn.execute("COMMIT")
    return LearnedRows({name: (role, frozenset(learned.get(feed_id, ()))) for feed_id, name, role in names}, windows)
