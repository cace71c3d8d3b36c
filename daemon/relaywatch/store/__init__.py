"""The SQLite record. The only package that holds SQL or imports sqlite3 / sqlite_utils; it
imports nothing of the text cleaning (an entry's cleaned text comes as ``models.EntryText``).

Plain tables that anyone can query (``feeds``, ``entries``, ``fingerprints``,
``fingerprint_index``, ``reposts``, ``polls``, ``digests``, ``entries_fts``) plus the
``repost_report`` view. ``schema`` holds the migrations: an ordered list recorded in
``schema_migrations``, each applied in its own transaction; a shipped migration is never edited,
a change is a new one appended.

``core`` is the ``Store``: it owns the connections (the writer's, and one that other threads read
through), the lock, transactions and savepoints, migrations and ``close``, plus ``query`` (any
read-only SQL, rows as dicts), ``count`` and ``table_sizes``, which belong to no record kind. Each
record kind is an object of its own module, which the store passes itself to, as sqlite-utils'
``Database`` has its ``Table``\\ s:

- ``store.feeds`` (``feeds``): feeds and their polling state, and the record of each poll;
- ``store.entries`` (``entries``): entries, their content hashes, the full-text catch-up;
- ``store.links`` (``links``): reposts;
- ``store.index`` (``index``): fingerprints and the fingerprint index, and the read-only view of
  it that ingest workers use; ``pending`` the fingerprints of recent entries waiting to be merged
  into ``fingerprint_index`` (``index_state`` counts their writes, and records how far
  ``entries_fts`` goes: new entries join it in batches);
- ``store.reports`` (``reporting``): read-side queries for reports;
- ``store.digests`` (``digests``): the once-a-day digest's bookkeeping.

``base`` holds errors, times as stored, and the lists of names stored as JSON.

sqlite-utils, and where not. Where a record kind is written or read a few times a poll or a day,
it goes through sqlite-utils rather than SQL built by hand: ``feeds`` (``rows_where`` for
``list``/``by_name``/``get``, ``insert`` and ``update`` for ``upsert``, ``ensure`` and
``save_state``), ``polls`` (``insert``), ``digests`` (``rows_where``, ``insert``, ``update``) and
the ``repost_report`` view (``rows_where``). Its writes join the store's transaction through
``Database.atomic``, which is a savepoint inside an open transaction from sqlite-utils 4 on (3.x
committed it: hence the requirement of sqlite-utils>=4). The rest keeps hand-written SQL, on
purpose:

- the matcher's hot path, read and written thousands of times a second in an ingest:
  ``entries.get_many``/``state``/``insert``/``update``, ``links.*`` and ``index.*``. Each of
  sqlite-utils' calls looks the table up (``view_names``, ``exists``, ``PRAGMA table_info``)
  and builds its SQL again, several times the cost of the statement itself; ``insert_all``
  would also not batch better than ``executemany`` into ``fingerprint_index`` in key order;
- statements that compute in SQL: ``links.save`` (``ON CONFLICT(copy_id) DO UPDATE``),
  ``digests.claim``'s update (``attempts + 1``, ``CASE``), ``feeds.remove`` (keyed by name, not by
  the primary key that ``Table.update`` takes), the full-text catch-up;
- joins and aggregates (``reports.copy_rows``, ``story_rows``, ``search``, ``feed_health_rows``).

``Table.upsert`` is not used for ``feeds.upsert``: it would set ``created_at`` again on an
update, and ``Table.lookup`` creates a unique index and inserts a row of the looked-up columns
only, where a feed needs its role and URL.
"""

from relaywatch.store.base import StoreError, from_db, to_db, utcnow
from relaywatch.store.core import CACHE_KIB, Store
from relaywatch.store.entries import stored_content_hashes
from relaywatch.store.schema import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = ["CACHE_KIB", "MIGRATIONS", "SCHEMA_VERSION", "Migration", "Store", "StoreError", "from_db",
           "stored_content_hashes", "to_db", "utcnow"]
