"""``relaywatch spark-ingest`` on local[1] and local[2] beside ``relaywatch ingest``, same input, same run.

The input: the repost generator with many copies per story (``--originals 9000 --copies 192000``:
200,644 entries, as it keeps 8,644 distinct originals; ~22 copies a story, relays of copies
among them). For each side: wall time and entries/s. For Spark: the speed-up from 1 to 2 cores;
the peak memory of the driver (the Python driver and, in local mode, the JVM that is both driver
and executor) and of the largest Python worker; the largest task, from Spark's event log (its
stage, run time and records, beside the median task of that stage: the skew). The Spark links
are then scored and compared with ingest's, copy by copy.

    python bench/spark.py [--originals 9000] [--copies 192000] [--seed 1] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchkit import build, ingest, links_json, score
from relaywatch.spark.load import import_dir
from relaywatch.store import Store

SCRIPT = Path(sys.executable).parent / "relaywatch"


class PeakRss:
    """Samples a process tree's memory (``/proc``) every 0.2 s: peak RSS of the process itself, of
    its Java child, and of the largest other descendant (Spark's Python workers)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peaks = pid, {"driver": 0, "jvm": 0, "worker": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for pid, kind in self._tree():
                rss = _rss(pid)
                self.peaks[kind] = max(self.peaks[kind], rss)

    def _tree(self) -> list[tuple[int, str]]:
        out, todo = [(self.pid, "driver")], [self.pid]
        while todo:
            parent = todo.pop()
            try:
                children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
            except OSError:
                continue
            for c in map(int, children):
                try:
                    cmd = Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")[0]
                except OSError:
                    continue
                out.append((c, "jvm" if cmd.endswith(b"java") else "worker"))
                todo.append(c)
        return out

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {k: v / 1024 for k, v in self.peaks.items()}


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def spark_run(bench: Path, work: Path, cores: int) -> dict[str, Any]:
    out, events = work / f"out-local{cores}", work / f"events-local{cores}"
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir(parents=True)
    cmd = [str(SCRIPT), "spark-ingest", str(bench / "entries.jsonl"), "--feeds", str(bench / "feeds.json"),
           "--out", str(out), "--master", f"local[{cores}]", "--conf", "spark.driver.memory=2g",
           "--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir={events.as_uri()}",
           "--conf", "spark.eventLog.compress=false"]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss = PeakRss(proc.pid)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t
    peaks = rss.stop()
    if proc.returncode:
        sys.exit(f"spark-ingest local[{cores}] failed: {stderr.strip()}")
    entries = int(stdout.split(" new entries")[0].split()[-1])
    return {"cores": cores, "seconds": seconds, "entries": entries, "rate": entries / seconds, "out": out,
            "summary": stdout.strip(), "rss": peaks, "largest": largest_task(events)}


def largest_task(events: Path) -> dict[str, Any]:
    """The longest task in the event log, with its stage's median task and task count."""
    stages: dict[int, list[tuple[float, int, int]]] = {}
    names: dict[int, str] = {}
    for f in (f for f in events.rglob("*") if f.is_file() and not f.name.startswith(("appstatus", "."))):
        for line in f.read_text(encoding="utf-8").splitlines():
            e = json.loads(line)
            if e.get("Event") == "SparkListenerStageSubmitted":
                names[e["Stage Info"]["Stage ID"]] = e["Stage Info"]["Stage Name"]
            if e.get("Event") != "SparkListenerTaskEnd" or "Task Metrics" not in e:
                continue
            m = e["Task Metrics"]
            records = m.get("Input Metrics", {}).get("Records Read", 0) + \
                m.get("Shuffle Read Metrics", {}).get("Total Records Read", 0)
            stages.setdefault(e["Stage ID"], []).append((m["Executor Run Time"] / 1000, records,
                                                         m.get("Peak Execution Memory", 0)))
    stage, tasks = max(stages.items(), key=lambda kv: max(t[0] for t in kv[1]))
    top = max(tasks, key=lambda t: t[0])
    return {"stage": names.get(stage, str(stage)).split(" at ")[0], "seconds": top[0], "records": top[1],
            "median_seconds": statistics.median(t[0] for t in tasks), "tasks": len(tasks),
            "stages": len(stages)}


def agreement(ingest_links: Path, spark_links: Path) -> str:
    a = {r["copy_url"]: r for r in json.loads(ingest_links.read_text())}
    b = {r["copy_url"]: r for r in json.loads(spark_links.read_text())}
    copies = set(a) | set(b)
    both = [c for c in copies if c in a and c in b]
    same = sum(a[c]["original_url"] == b[c]["original_url"] for c in both)
    kind = sum(a[c]["kind"] == b[c]["kind"] for c in both)
    via = sum(a[c]["via_url"] == b[c]["via_url"] for c in both)
    n = len(copies) or 1
    return (f"copies linked by either: {len(copies)}; same original: {same} ({same / n:.4f}), same kind:"
            f" {kind} ({kind / n:.4f}), same via: {via} ({via / n:.4f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--originals", type=int, default=9000)
    ap.add_argument("--copies", type=int, default=192000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "relaywatch-bench-spark")
    a = ap.parse_args()
    bench = build(a.work / f"set-{a.originals}-{a.copies}-{a.seed}", a.originals, a.copies, a.seed)
    with (bench / "entries.jsonl").open(encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    print(f"input: {bench / 'entries.jsonl'} ({lines} entries),"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    base = ingest(a.work / "ingest.db", bench)
    ingest_links = links_json(a.work / "ingest.db", a.work / "ingest-links.json")
    print(f"ingest:    {base.entries} entries in {base.seconds:.0f} s, {base.rate:.0f} entries/s"
          f" (peak RSS {base.peak_rss_mb:.0f} MB)")
    runs = [spark_run(bench, a.work, cores) for cores in (1, 2)]
    for r in runs:
        t, m = r["largest"], r["rss"]
        print(f"local[{r['cores']}]:  {r['entries']} entries in {r['seconds']:.0f} s, {r['rate']:.0f} entries/s;"
              f" peak RSS: driver (Python) {m['driver']:.0f} MB, JVM {m['jvm']:.0f} MB, largest Python worker"
              f" {m['worker']:.0f} MB; largest task: {t['seconds']:.1f} s, {t['records']} records, in '{t['stage']}'"
              f" ({t['tasks']} tasks, median {t['median_seconds']:.1f} s; {t['stages']} stages)")
    print(f"speed-up local[1] -> local[2]: {runs[0]['seconds'] / runs[1]['seconds']:.2f}x")
    db = a.work / "spark.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with Store(db) as store:
        import_dir(store, runs[1]["out"])
    spark_links = links_json(db, a.work / "spark-links.json")
    print("spark vs ingest: " + agreement(ingest_links, spark_links))
    for name, links in (("ingest", ingest_links), ("spark", spark_links)):
        print(f"{name} against the truth: " + score(bench, links)[-1])
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
