"""``relaywatch import DIR``: a job's Parquet output into the SQLite store, through ``store.bulk``.

Reads with pyarrow (no Spark, no Java), a batch of rows at a time, files in name order (the job
writes them sorted by id): memory stays bounded whatever the size of the archive. The entries
come with their fingerprints, so the daemon, started on that store, links newly polled entries
to the archive's stories.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from relaywatch.spark import SparkInputError
from relaywatch.store import Store
from relaywatch.store.bulk import Imported

BATCH_ROWS = 10_000


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SparkInputError(f"{folder}: no such folder (is {folder.parent} the output of spark-ingest?)")
    return sorted(folder.glob("*.parquet"))


def _rows(folder: Path) -> Iterator[dict[str, Any]]:
    for f in _files(folder):
        try:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
                yield from batch.to_pylist()
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise SparkInputError(f"{f}: cannot read: {e}") from e


def import_dir(store: Store, path: str | Path) -> Imported:
    """Load ``path`` (``spark-ingest``'s output: feeds, entries, links) into ``store``."""
    root = Path(path)
    if not root.is_dir():
        raise SparkInputError(f"{root}: no such folder")
    feeds = [(r["name"], r["role"], tuple(r["credit"] or ())) for r in _rows(root / "feeds")]
    _files(root / "entries")
    _files(root / "links")
    return store.bulk.import_rows(feeds, _rows(root / "entries"), _rows(root / "links"))
