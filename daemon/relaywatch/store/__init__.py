"""The SQLite record. The only package that holds SQL or imports sqlite3 / sqlite_utils.

Plain tables that anyone can query (``feeds``, ``entries``, ``fingerprints``,
``fingerprint_index``, ``reposts``, ``polls``, ``digests``, ``entries_fts``) plus the
``repost_report`` view. ``schema`` holds the migrations: an ordered list recorded in
``schema_migrations``, each applied in its own transaction; a shipped migration is never edited,
a change is a new one appended. ``core`` is the ``Store`` (feeds, entries, links); ``index`` its
fingerprint index, and the read-only view of it that ingest workers use; ``reporting`` its
read-side queries for reports and the digest's bookkeeping; ``pending`` the
fingerprints of recent entries waiting to be merged into ``fingerprint_index`` (``index_state``
counts their writes, and records how far ``entries_fts`` goes: new entries join it in batches);
``base`` errors, times as stored, and rows turned into the dataclasses.
"""

from relaywatch.store.base import StoreError, from_db, to_db, utcnow
from relaywatch.store.core import CACHE_KIB, Store, stored_content_hashes
from relaywatch.store.schema import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = ["CACHE_KIB", "MIGRATIONS", "SCHEMA_VERSION", "Migration", "Store", "StoreError", "from_db",
           "stored_content_hashes", "to_db", "utcnow"]
