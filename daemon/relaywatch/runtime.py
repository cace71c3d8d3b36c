"""The interpreter's settings for relaywatch's long jobs (the daemon, ``poll``, ``ingest``) and its
worker processes.

Garbage collection. CPython's cycle collector examines the young objects every 700 container
allocations (net of frees), and now and then every object the process holds. relaywatch allocates
millions of short-lived tuples and lists that hold no cycles (SQLite rows, tokens, the index rows
of a merge), so with the default thresholds the collector ran ~3,800 times during an ingest of
bench/throughput.py's 48,644 entries, for 3.7 s of the matcher's thread: 63.0 s in all, 772
entries/s. With the objects made at start frozen out of collections and the thresholds below,
it ran twice: 54.7 s, 889 entries/s; peak RSS the same (258 MB), so nothing piles up uncollected.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 10)  # young objects between collections; young, middle passes per older one


def tune_gc() -> None:
    """Collect once, freeze what survives (modules, config: never garbage), raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
