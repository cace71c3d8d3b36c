"""What the substring index for scripts written without spaces costs on an English wire corpus.

relaywatch keeps two full-text indexes: ``entries_fts`` (words, unicode61) and ``entries_trigram``
(trigrams, for Chinese, Japanese, Thai, ...), the latter over the entries flagged ``unspaced`` only.
This ingests the Reuters repost benchmark (``make_reuse_bench.py``, default set: 2,000 originals,
3,000 copies) through the real pipeline into a real SQLite file and prints, measured in the same
database:

- the bytes of the entries, the word index and the trigram index as relaywatch keeps them;
- the baselines: a trigram index over every entry (bytes, seconds to build) and the word index's
  own build time; the test of every entry for such characters in SQL (GLOB) against the regex
  store.entries applies as it writes;
- a two-character CJK search (a scan of the flagged entries) against the same LIKE over every entry.

    python bench/search_index.py [--originals N --copies N]

One run (2 shared cores, other work running):

    == 5000 entries of the Reuters repost benchmark ingested in 14.7 s
      entries                9.03 MB   (the table alone)
      entries_fts            3.78 MB   (words)
      entries_trigram        0.02 MB   (flagged entries only)
      search 福岛              0.5 ms   (0 hits; LIKE over every entry: 14.0 ms)
      build bench_words          0.38 s   0.076 ms an entry
      build bench_trigram_all    1.99 s   0.398 ms an entry
      bench_words            3.78 MB   (baseline: the word index)
      bench_trigram_all     21.57 MB   (baseline: trigrams of every entry)
      flag in SQL (GLOB)    1.65 s   0.3298 ms an entry   (0 flagged)
      flag in Python (re)   0.12 s   0.0246 ms an entry   (0 flagged; what store.entries does)
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import tempfile
import time
from pathlib import Path

from benchkit import build, ingest
from relaywatch.report.lookup import search
from relaywatch.store import Store
from relaywatch.store.entries import _unspaced
from relaywatch.store.schema import holds_unspaced


def _bytes(sizes: dict[str, int], table: str) -> int:
    """A table's bytes; an FTS5 table's are those of its shadow tables."""
    return sum(v for k, v in sizes.items() if re.fullmatch(rf"{table}(_(data|idx|docsize|config|content))?", k))


def _timed(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> tuple[float, list[tuple]]:
    t = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return time.perf_counter() - t, rows


def _build_costs(conn: sqlite3.Connection, n: int) -> None:
    """Word index and an every-entry trigram index built from scratch, in the same file."""
    conn.execute("CREATE VIRTUAL TABLE bench_words USING fts5(title, text, content=entries, content_rowid=id)")
    conn.execute("CREATE VIRTUAL TABLE bench_trigram_all USING fts5(title, text, content=entries, "
                 "content_rowid=id, tokenize='trigram')")
    for table in ("bench_words", "bench_trigram_all"):
        t = time.perf_counter()
        conn.execute(f"INSERT INTO {table} (rowid, title, text) SELECT id, title, text FROM entries")
        conn.commit()
        s = time.perf_counter() - t
        print(f"  build {table:18} {s:6.2f} s   {s / n * 1000:.3f} ms an entry")


def _flag_costs(conn: sqlite3.Connection, n: int) -> None:
    s, rows = _timed(conn, f"SELECT count(*) FROM entries WHERE {holds_unspaced()}")
    print(f"  flag in SQL (GLOB)  {s:6.2f} s   {s / n * 1000:.4f} ms an entry   ({rows[0][0]} flagged)")
    texts = conn.execute("SELECT title, text FROM entries").fetchall()
    t = time.perf_counter()
    flagged = sum(_unspaced(title, text) for title, text in texts)
    s = time.perf_counter() - t
    print(f"  flag in Python (re) {s:6.2f} s   {s / n * 1000:.4f} ms an entry   ({flagged} flagged; "
          "what store.entries does)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--originals", type=int, default=2000)
    ap.add_argument("--copies", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = build(Path(tmp) / "bench", args.originals, args.copies, seed=1)
        db = Path(tmp) / "search.db"
        run = ingest(db, bench)
        print(f"== {run.entries} entries of the Reuters repost benchmark ingested in {run.seconds:.1f} s")
        with Store(db) as store:
            store.entries.index_text()
            sizes = store.table_sizes()
            print(f"  entries             {_bytes(sizes, 'entries') / 1e6:7.2f} MB   (the table alone)")
            print(f"  entries_fts         {_bytes(sizes, 'entries_fts') / 1e6:7.2f} MB   (words)")
            print(f"  entries_trigram     {_bytes(sizes, 'entries_trigram') / 1e6:7.2f} MB   (flagged entries only)")
            t = time.perf_counter()
            hits = search(store, "福岛")
            mine = time.perf_counter() - t
            t = time.perf_counter()
            store.conn.execute("SELECT count(*) FROM entries WHERE title LIKE ? OR text LIKE ?",
                               ("%福岛%", "%福岛%")).fetchone()
            scan = time.perf_counter() - t
            print(f"  search 福岛          {mine * 1000:7.1f} ms   ({len(hits)} hits; LIKE over every entry: "
                  f"{scan * 1000:.1f} ms)")
        conn = sqlite3.connect(db)
        _build_costs(conn, run.entries)
        sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        print(f"  bench_words         {_bytes(sizes, 'bench_words') / 1e6:7.2f} MB   (baseline: the word index)")
        print(f"  bench_trigram_all   {_bytes(sizes, 'bench_trigram_all') / 1e6:7.2f} MB   "
              "(baseline: trigrams of every entry)")
        _flag_costs(conn, run.entries)
        conn.close()


if __name__ == "__main__":
    main()
