"""Caches bounded by the bytes they hold, not by how many items: the daemon's memory stays flat
however long or figure-heavy the texts its feeds carry.

:class:`ByteLRU` keeps the most recently used items whose estimated sizes add up to at most its
budget (an item larger than the whole budget is not kept). The estimate is the caller's
``size_of``; :func:`fingerprint_bytes`, :func:`entry_bytes` and :func:`text_bytes` are those the
daemon uses.

A fingerprint (``detect.fingerprint.Fingerprint``) is mostly four numpy arrays of 8-byte hashes,
about three per token (``sequence``, ``shingles``, ``words``) plus one per winnowed hash, and the
set of its figures (a view counts the array it keeps alive). Measured with tracemalloc on the
first 2,000 entries of the Reuters repost benchmark (198 tokens on average): 6,511 bytes each,
cache entry included; the estimate says 6,656 (``tests/test_cache.py`` checks it stays within 15%).
The default budget of 128 MiB holds ~20,000 such stories, fewer long ones.

Not thread-safe: its users hold a lock, or use it from one thread.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

from relaywatch.detect.fingerprint import Fingerprint
from relaywatch.models import StoredEntry

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MIB = 1024 * 1024
ENTRY_OVERHEAD = 120   # an OrderedDict slot (hash table entry, its linked-list node) and the key
_ARRAY_OVERHEAD = 112  # a numpy array object, its data not counted
_OBJECT_OVERHEAD = 250  # a frozen dataclass instance with its __dict__


def fingerprint_bytes(fp: Fingerprint) -> int:
    """Estimated bytes a fingerprint holds, its arrays' data included."""
    owners: dict[int, int] = {}  # an array that is a view keeps the array it looks into alive: count that
    for a in (fp.sequence, fp.shingles, fp.winnowed, fp.words):
        while isinstance(a.base, np.ndarray):
            a = a.base
        owners[id(a)] = a.nbytes
    # its ``order`` (4 bytes a shingle) is made when it is first measured: counted from the start
    # (its ``figures``, a byte a token, only when it is read for a rewrite: not counted)
    size = _OBJECT_OVERHEAD + 5 * _ARRAY_OVERHEAD + sum(owners.values()) + 4 * len(fp.sequence)
    size += sys.getsizeof(fp.numbers) + sum(map(sys.getsizeof, fp.numbers))
    return size


def entry_bytes(entry: StoredEntry) -> int:
    """Estimated bytes a stored entry read back holds: its strings (the text most of it) and the
    object with its tuples of names."""
    strings = (entry.text, entry.url, entry.title, entry.guid, entry.dateline, entry.feed_name, entry.feed_title)
    tuples = (entry.credits, entry.sources, entry.credit_names, entry.boilerplate)
    names = [n for t in tuples for n in t]
    return _OBJECT_OVERHEAD + sum(map(sys.getsizeof, (*strings, *tuples, *names)))


def text_bytes(text: str | None) -> int:
    """Bytes a cached text holds (None: a remembered "no text")."""
    return 16 if text is None else sys.getsizeof(text)


class ByteLRU(Generic[K, V]):
    """Least-recently-used items within ``budget`` bytes, each counted as ``size_of(value)`` plus
    the cache's own overhead per item."""

    def __init__(self, budget: int, size_of: Callable[[V], int]) -> None:
        if budget < 0:
            raise ValueError(f"a cache budget is at least 0 bytes, not {budget}")
        self.budget = budget
        self.size_of = size_of
        self.bytes = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        """The value (now the most recently used), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` as the most recently used, dropping the least recently used past the budget."""
        self.pop(key)
        size = self.size_of(value) + ENTRY_OVERHEAD
        if size > self.budget:
            return
        self._items[key] = (value, size)
        self.bytes += size
        while self.bytes > self.budget:
            _, (_, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped

    def pop(self, key: K) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[1]

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0
