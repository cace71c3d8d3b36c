"""Match latency, index size and memory as the store grows to 1,000,000 entries.

The store is grown with synthetic news made from the real 1987 Reuters stories: an order-2
Markov chain over their words (each next word drawn after the two before it, as in the
collection) writes each entry, so entries are distinct texts that share words and common
phrases ("said in a statement", "mln dlrs") with the frequencies of wire copy, as different
stories do. Growth writes entries and their fingerprints through ``Store`` in large transactions
(no matching: it would only slow the growth down). At each checkpoint, probes go through the
real pipeline one at a time, each in its own transaction, with a cold fingerprint cache (the
worst case: every candidate's text is read back and fingerprinted again): 100 excerpts of stored
entries with a few words changed (they must be linked to them) and 100 new texts (they must not
be linked). Printed per checkpoint: entries, latency of ``Matcher.match`` and of the whole entry
(insert, index, match, link, commit) p50/p99, probes linked right, RSS now, database size and
the fingerprint index's bytes per entry. Then ``--fresh-rounds`` rounds of the same probes by a
process that has just opened the final file: how a restarted daemon matches before its caches
warm up (on a machine whose page cache does not hold the file, from disk).

Side by side: datasketch's in-memory ``MinHashLSH`` (same shingles, 128 permutations, threshold
0.4) over the first ``--baseline`` entries: its query latency, its recall on the same probes
and the memory it takes (it keeps the whole index in RAM).

    python bench/scale.py [--entries 1000000] [--checkpoints 10000,100000,300000,1000000]
                          [--baseline 100000] [--fresh-rounds 3] [--db PATH]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchkit import TOOLS, need, need_bench_extra
from relaywatch.detect.prepare import METHOD, Prepared, prepare
from relaywatch.models import ParsedEntry
from relaywatch.record.matcher import Matcher
from relaywatch.record.pipeline import Pipeline, entry_text
from relaywatch.runtime import tune_gc
from relaywatch.store import Store

T0 = datetime(1987, 3, 1, tzinfo=UTC)
_CHAIN: dict[tuple[str, str], list[str]] = {}
_STARTS: list[tuple[str, str]] = []


def load_corpus() -> None:
    spec = importlib.util.spec_from_file_location("make_reuse_bench", need(TOOLS / "make_reuse_bench.py"))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for doc in mod.load_reuters():
        for para in doc["paras"]:
            words = para.split()
            if len(words) < 3:
                continue
            _STARTS.append((words[0], words[1]))
            for a, b, c in zip(words, words[1:], words[2:], strict=False):
                _CHAIN.setdefault((a, b), []).append(c)


def synthetic(i: int) -> tuple[str, str]:
    """Entry ``i``: (title, text) of 4-6 paragraphs, the same for the same i."""
    rng = random.Random(i)
    paras = []
    for _ in range(rng.randint(4, 6)):
        a, b = rng.choice(_STARTS)
        words = [a, b]
        while len(words) < rng.randint(30, 70):
            nxt = _CHAIN.get((a, b))
            if not nxt:
                a, b = rng.choice(_STARTS)
                words += [a, b]
                continue
            a, b = b, rng.choice(nxt)
            words.append(b)
        paras.append(" ".join(words))
    return " ".join(paras[0].split()[:8]), "\n\n".join(paras)


def entry(i: int, title: str, text: str, prefix: str = "e", at: int | None = None) -> ParsedEntry:
    """Entry i is published i seconds after T0 (probes: ``at`` seconds, after every stored entry)."""
    return ParsedEntry(guid=f"{prefix}{i}", url=f"https://scale.example.org/{prefix}/{i}", title=title, html=text,
                       published=T0 + timedelta(seconds=i if at is None else at), published_raw=None,
                       date_flag=None)


def _prepare(i: int) -> Prepared:
    return prepare(entry(i, *synthetic(i)))


def excerpt(i: int, rng: random.Random) -> tuple[str, str]:
    """About half of stored entry i, with three words changed: a copy that must be found."""
    title, text = synthetic(i)
    paras = text.split("\n\n")
    keep = paras[: max(1, (len(paras) + 1) // 2)]
    words = " ".join(keep).split()
    for _ in range(3):
        words[rng.randrange(len(words))] = rng.choice(_STARTS)[0]
    return "Copy: " + title, " ".join(words)


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


class TimedMatcher(Matcher):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.times: list[float] = []

    def match(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return super().match(*args, **kwargs)
        finally:
            self.times.append((time.perf_counter() - t) * 1000)


def probe(store: Store, n: int, round_no: int, probes: int) -> dict[str, float]:
    rng = random.Random(10_000 + round_no)
    copies = [(rng.randrange(n), i) for i in range(probes)]
    matcher = TimedMatcher(store)  # a cold fingerprint cache: candidates are re-read from the database
    pipeline = Pipeline(store, matcher)
    feed = store.feeds.ensure(f"probe-{round_no}", "relay")
    whole: list[float] = []
    found = 0
    for src, k in copies:
        title, text = excerpt(src, rng)
        item = prepare(entry(k, title, text, prefix=f"p{round_no}-", at=n + 1000 + k))
        t = time.perf_counter()
        pipeline.ingest(feed, [item], datetime.now(UTC))
        whole.append((time.perf_counter() - t) * 1000)
        state = store.entries.state(feed.id, item.entry.guid)
        link = store.links.of(state[0]) if state else None
        found += link is not None and store.entries.get(link.original_id).guid == f"e{src}"
    false = 0
    for k in range(probes):
        item = _prepare(50_000_000 + round_no * probes + k)  # never stored
        item = Prepared(entry(k, item.entry.title, item.entry.html, prefix=f"n{round_no}-", at=n + 2000 + k),
                        item.clean, item.fp, item.content_hash)
        t = time.perf_counter()
        counts = pipeline.ingest(feed, [item], datetime.now(UTC))
        whole.append((time.perf_counter() - t) * 1000)
        false += counts.links
    m = matcher.times
    return {"match_p50": pct(m, 50), "match_p99": pct(m, 99), "entry_p50": pct(whole, 50),
            "entry_p99": pct(whole, 99), "found": found, "false": false}


def grow(store: Store, start: int, stop: int, workers: int) -> Iterator[int]:
    feed = store.feeds.ensure("scale", "outlet")
    now = datetime.now(UTC)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for lo in range(start, stop, 5000):
            items = pool.map(_prepare, range(lo, min(stop, lo + 5000)), chunksize=100)
            with store.transaction():
                for item in items:
                    eid = store.entries.insert(feed.id, item.entry, entry_text(item.clean), item.content_hash, now)
                    store.index.save_fingerprint(eid, METHOD, len(item.fp.shingles), item.fp.winnowed, item.fp.tokens)
            yield min(stop, lo + 5000)


def fresh_probes(db: str, n: int, rounds: int, probes: int) -> list[str]:
    """Probe rounds in a process that has just opened the store (run in a child process): its
    SQLite cache is empty, and the index pages come from the page cache or the disk."""
    tune_gc()
    load_corpus()
    lines = []
    with Store(db) as store:
        for k in range(rounds):
            r = probe(store, n, 100 + k, probes)
            lines.append(f"fresh process, round {k + 1}: match p50 {r['match_p50']:.2f} ms, "
                         f"p99 {r['match_p99']:.1f} ms; entry p50 {r['entry_p50']:.2f} ms, "
                         f"p99 {r['entry_p99']:.1f} ms; found {r['found']}/{probes}, {r['false']} false")
    return lines


def baseline(limit: int, probes: int) -> None:
    from datasketch import MinHash, MinHashLSH

    gc.collect()
    before = rss_mb()
    lsh = MinHashLSH(threshold=0.4, num_perm=128)
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for lo in range(0, limit, 5000):
            for i, item in enumerate(pool.map(_prepare, range(lo, min(limit, lo + 5000)), chunksize=100), lo):
                m = MinHash(num_perm=128, hashfunc=lambda h: h)
                m.update_batch([int(h) & 0xFFFFFFFF for h in item.fp.shingles])
                lsh.insert(i, m)
    build = time.perf_counter() - t
    mem = rss_mb() - before
    rng = random.Random(10_000)
    times, found = [], 0
    for _ in range(probes):
        src = rng.randrange(limit)
        title, text = excerpt(src, rng)
        item = prepare(entry(0, title, text))
        t = time.perf_counter()
        m = MinHash(num_perm=128, hashfunc=lambda h: h)
        m.update_batch([int(h) & 0xFFFFFFFF for h in item.fp.shingles])
        hits = lsh.query(m)
        times.append((time.perf_counter() - t) * 1000)
        found += src in hits
    print(f"\ndatasketch MinHashLSH, {limit} entries in RAM: built in {build:.0f} s ({limit / build:.0f} entries/s), "
          f"+{mem:.0f} MB RSS ({mem * 1e6 / limit:.0f} B/entry); query p50 {pct(times, 50):.2f} ms, "
          f"p99 {pct(times, 99):.2f} ms; excerpts found {found}/{probes}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--checkpoints", default="10000,100000,300000,1000000")
    ap.add_argument("--probes", type=int, default=100, help="excerpts and new texts per checkpoint (each)")
    ap.add_argument("--baseline", type=int, default=100_000, help="entries in the MinHashLSH baseline (0: none)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fresh-rounds", type=int, default=3,
                    help="probe rounds by a new process on the final file (its caches cold; 0: none)")
    ap.add_argument("--db", type=Path, default=Path("/tmp/relaywatch-scale.db"))
    args = ap.parse_args()
    if args.baseline:
        need_bench_extra()
    tune_gc()  # as `relaywatch ingest` and the daemon do
    load_corpus()
    print(f"corpus: an order-2 Markov chain over Reuters-21578 ({len(_CHAIN)} word pairs)")
    checkpoints = sorted({c for c in map(int, args.checkpoints.split(",")) if c <= args.entries} | {args.entries})
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    print(f"{'entries':>9}  {'grow/s':>6}  {'match p50':>9}  {'p99':>6}  {'entry p50':>9}  {'p99':>6}  "
          f"{'found':>7}  {'false':>5}  {'RSS MB':>6}  {'DB MB':>7}  {'index B/entry':>13}")
    with Store(args.db) as store:
        n, t = 0, time.perf_counter()
        for round_no, target in enumerate(checkpoints):
            for done in grow(store, n, target, args.workers):
                n = done
            rate = (target - (checkpoints[round_no - 1] if round_no else 0)) / (time.perf_counter() - t)
            r = probe(store, n, round_no, args.probes)
            sizes = store.table_sizes()
            index = sum(v for k, v in sizes.items()
                        if k.startswith(("fingerprint_index", "fingerprints", "fingerprint_pending")))
            db_mb = sum(sizes.values()) / 1e6
            print(f"{n:>9}  {rate:>6.0f}  {r['match_p50']:>7.2f}ms  {r['match_p99']:>4.1f}ms  "
                  f"{r['entry_p50']:>7.2f}ms  {r['entry_p99']:>4.1f}ms  {r['found']:>3}/{args.probes:<3}  "
                  f"{r['false']:>5}  {rss_mb():>6.0f}  {db_mb:>7.0f}  {index / n:>13.0f}", flush=True)
            t = time.perf_counter()
    if args.fresh_rounds:
        print(f"\nthe same file, {args.fresh_rounds} rounds of probes by a process that has just opened it:")
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            for line in pool.apply(fresh_probes, (str(args.db), n, args.fresh_rounds, args.probes)):
                print(line, flush=True)
    if args.baseline:
        baseline(min(args.baseline, args.entries), args.probes)


if __name__ == "__main__":
    sys.exit(main())
