"""Ingest throughput on the 52,000-entry Reuters repost set, with datasketch's MinHashLSH beside it.

relaywatch: ``ingest_file`` (text -> fingerprint -> match -> SQLite writes, the polling path),
entries per second end to end, peak RSS, database size, and the link scores of the shared scorer.

Baseline, in the same run and on the same entries: datasketch's in-memory ``MinHashLSH`` over the
same word 4-gram shingles (128 permutations) at the same threshold (0.4), each entry linked to the
earliest stored entry it finds (a wire entry first), so its F1 and rate print beside ours.

Each side runs in its own process so that its peak RSS is its own.

    python bench/throughput.py [--originals 12000] [--copies 40000] [--seed 1] [--workers N] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import build, ingest, links_json, need_bench_extra, peak_rss_mb, score
from relaywatch.poll.archive import default_workers

THRESHOLD = 0.4
NUM_PERM = 128


def ours(bench: Path, work: Path, workers: int) -> dict[str, object]:
    db = work / "throughput.db"
    run = ingest(db, bench, workers=workers)
    size = sum(Path(str(db) + s).stat().st_size for s in ("", "-wal") if Path(str(db) + s).exists())
    lines = score(bench, links_json(db, work / "throughput-links.json"))
    return {"name": "relaywatch", "entries": run.entries, "seconds": run.seconds, "rate": run.rate,
            "rss_mb": run.peak_rss_mb, "db_mb": size / 1e6, "score": lines,
            "cpu_ms": [1000 * run.cpu_main / run.entries, 1000 * run.cpu_workers / run.entries]}


def baseline(bench: Path, work: Path) -> dict[str, object]:
    from datasketch import MinHash, MinHashLSH
    from relaywatch.detect import fingerprint, text

    feeds = {f["name"]: f["role"] for f in json.loads((bench / "feeds.json").read_text(encoding="utf-8"))}
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    sketches: dict[int, MinHash] = {}
    rows: list[dict[str, str]] = []
    links = []
    t = time.perf_counter()
    with (bench / "entries.jsonl").open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            e = json.loads(line)
            fp = fingerprint.fingerprint(text.clean(e.get("html") or e.get("text") or "").text)
            m = MinHash(num_perm=NUM_PERM, hashfunc=lambda h: h)
            m.update_batch([int(h) & 0xFFFFFFFF for h in fp.shingles])
            found = [j for j in lsh.query(m) if m.jaccard(sketches[j]) >= THRESHOLD]
            if found:
                j = min(found, key=lambda j: (feeds.get(rows[j]["feed"]) != "wire", j))
                links.append({"copy_url": e["url"], "original_url": rows[j]["url"], "via_url": None,
                              "kind": "verbatim", "credited": False})
            lsh.insert(i, m)
            sketches[i] = m
            rows.append({"feed": e["feed"], "url": e["url"]})
    seconds = time.perf_counter() - t
    out = work / "baseline-links.json"
    out.write_text(json.dumps(links), encoding="utf-8")
    return {"name": "datasketch MinHashLSH", "entries": len(rows), "seconds": seconds,
            "rate": len(rows) / seconds, "rss_mb": peak_rss_mb(), "db_mb": 0.0, "score": score(bench, out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--originals", type=int, default=12000)
    ap.add_argument("--copies", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=default_workers(),
                    help="processes that clean and fingerprint text (default as `relaywatch ingest`: cores - 1, <= 2)")
    ap.add_argument("--work", type=Path, help="keep the generated set and databases here")
    ap.add_argument("--side", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side != "ours":
        need_bench_extra()
    with tempfile.TemporaryDirectory(prefix="relaywatch-throughput-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        bench = build(work / f"reuse-{args.originals}-{args.copies}-{args.seed}", args.originals, args.copies,
                      args.seed)
        if args.side:  # one side, in a child process: print its figures as JSON
            result = ours(bench, work, args.workers) if args.side == "ours" else baseline(bench, work)
            print(json.dumps(result))
            return
        print(f"set: --originals {args.originals} --copies {args.copies} --seed {args.seed}")
        for side in ("ours", "baseline"):
            done = subprocess.run([sys.executable, __file__, "--originals", str(args.originals), "--copies",
                                   str(args.copies), "--seed", str(args.seed), "--workers", str(args.workers),
                                   "--work", str(work), "--side", side],
                                  check=True, capture_output=True, text=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"\n{r['name']}: {r['entries']} entries in {r['seconds']:.1f} s = {r['rate']:.0f} entries/s, "
                  f"peak RSS {r['rss_mb']:.0f} MB" + (f", database {r['db_mb']:.0f} MB" if r["db_mb"] else ""))
            if r.get("cpu_ms"):  # where the time goes: the one process that matches and writes is the limit
                print(f"  CPU per entry: {r['cpu_ms'][0]:.2f} ms in the ingesting process (matching, SQLite), "
                      f"{r['cpu_ms'][1]:.2f} ms in its {args.workers} worker process{'es' * (args.workers != 1)}"
                      " (text, fingerprints)")
            for line in r["score"]:
                print(f"  {line}")


if __name__ == "__main__":
    main()
