"""``relaywatch spark-ingest`` on local[1] and local[2] beside ``relaywatch ingest``, same input, same run.

The input: the repost generator with many copies per story (``--originals 9000 --copies 192000``:
200,644 entries, as it keeps 8,644 distinct originals; ~22 copies a story, relays of copies
among them). For each side: wall time and entries/s. For Spark: the speed-up from 1 to 2 cores;
the peak memory of the driver (the Python driver and, in local mode, the JVM that is both driver
and executor) and of the largest Python worker; the largest task, from Spark's event log (its
stage, run time and records, beside the median task of that stage: the skew); the CPU seconds
of each side (a shared machine's load changes wall times more than CPU time), and the load
average before and after each run. The Spark links are then scored and compared with ingest's,
copy by copy, and the entries' texts (each feed's boilerplate stripped) entry by entry.

    python bench/spark.py [--originals 9000] [--copies 192000] [--seed 1] [--work DIR] [--cores 1,2]

Parity on the default set (ingest and local[2] only):

    python bench/spark.py --originals 1500 --copies 2000 --cores 2
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
TICKS = os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples a process tree (``/proc``) every 0.2 s: peak RSS of the process itself, of its Java
    child, and of the largest other descendant (Spark's Python workers); and the CPU seconds of the
    whole tree (each process's user + system time as last seen: Spark's Python workers live as
    long as the session, so at most 0.2 s of a process is missed)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peaks = pid, {"driver": 0, "jvm": 0, "worker": 0}
        self.cpu: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for pid, kind in self._tree():
                rss = _rss(pid)
                self.peaks[kind] = max(self.peaks[kind], rss)
                self.cpu[pid] = (kind, max(self.cpu.get(pid, (kind, 0.0))[1], _cpu_seconds(pid)))

    def _tree(self) -> list[tuple[int, str]]:
        out, todo = [(self.pid, "driver")], [self.pid]
        while todo:
            parent = todo.pop()
            children = []
            for task in Path(f"/proc/{parent}/task").glob("*"):  # the JVM starts Python from another thread
                try:
                    children += (task / "children").read_text().split()
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


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def spark_run(bench: Path, work: Path, cores: int, memory: str) -> dict[str, Any]:
    out, events = work / f"out-local{cores}", work / f"events-local{cores}"
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir(parents=True)
    cmd = [str(SCRIPT), "spark-ingest", str(bench / "entries.jsonl"), "--feeds", str(bench / "feeds.json"),
           "--out", str(out), "--master", f"local[{cores}]", "--conf", f"spark.driver.memory={memory}",
           "--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir={events.as_uri()}",
           "--conf", "spark.eventLog.compress=false"]
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss = PeakRss(proc.pid)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t
    peaks = rss.stop()
    cpu = {kind: sum(c for k, c in rss.cpu.values() if k == kind) for kind in ("driver", "jvm", "worker")}
    if proc.returncode:
        sys.exit(f"spark-ingest local[{cores}] failed: {stderr.strip()}")
    entries = int(stdout.split(" new entries")[0].split()[-1])
    return {"cores": cores, "seconds": seconds, "entries": entries, "rate": entries / seconds, "out": out,
            "summary": stdout.strip(), "rss": peaks, "largest": largest_task(events), "cpu": cpu,
            "load": (load, os.getloadavg()[0])}


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


def same_texts(ingest_db: Path, spark_db: Path) -> str:
    """How many entries each store holds with the same text (each feed's boilerplate stripped alike)."""
    q = "SELECT e.url, e.text FROM entries e"
    with Store(ingest_db) as a, Store(spark_db) as b:
        mine = {r["url"]: r["text"] for r in a.query(q)}
        theirs = {r["url"]: r["text"] for r in b.query(q)}
    same = sum(theirs.get(url) == text for url, text in mine.items())
    return f"entries with the same text: {same} of {len(mine)} ({same / (len(mine) or 1):.4f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--originals", type=int, default=9000)
    ap.add_argument("--copies", type=int, default=192000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "relaywatch-bench-spark")
    ap.add_argument("--cores", default="1,2", help="the local[N] runs, N comma-separated (parity: --cores 2)")
    ap.add_argument("--memory", default="4g", help="spark.driver.memory (local mode: the JVM that runs the tasks)")
    a = ap.parse_args()
    bench = build(a.work / f"set-{a.originals}-{a.copies}-{a.seed}", a.originals, a.copies, a.seed)
    with (bench / "entries.jsonl").open(encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    print(f"input: {bench / 'entries.jsonl'} ({lines} entries),"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    load = os.getloadavg()[0]
    base = ingest(a.work / "ingest.db", bench)
    ingest_links = links_json(a.work / "ingest.db", a.work / "ingest-links.json")
    cpu = base.cpu_main + base.cpu_workers
    print(f"ingest:    {base.entries} entries in {base.seconds:.0f} s, {base.rate:.0f} entries/s"
          f" (peak RSS {base.peak_rss_mb:.0f} MB); CPU {cpu:.0f} s, {cpu / base.entries * 1000:.2f} ms an entry;"
          f" load average {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    runs = []
    for cores in a.cores.split(","):
        r = spark_run(bench, a.work, int(cores), a.memory)
        runs.append(r)
        t, m, cpu = r["largest"], r["rss"], r["cpu"]
        total = sum(cpu.values())
        print(f"local[{r['cores']}]:  {r['entries']} entries in {r['seconds']:.0f} s, {r['rate']:.0f} entries/s;"
              f" CPU {total:.0f} s (JVM {cpu['jvm']:.0f}, Python workers {cpu['worker']:.0f}),"
              f" {total / r['entries'] * 1000:.2f} ms an entry; load average {r['load'][0]:.1f} -> {r['load'][1]:.1f};"
              f" peak RSS: driver (Python) {m['driver']:.0f} MB, JVM {m['jvm']:.0f} MB, largest Python worker"
              f" {m['worker']:.0f} MB; largest task: {t['seconds']:.1f} s, {t['records']} records, in '{t['stage']}'"
              f" ({t['tasks']} tasks, median {t['median_seconds']:.1f} s; {t['stages']} stages)", flush=True)
    if len(runs) > 1:
        few, many = min(runs, key=lambda r: r["cores"]), max(runs, key=lambda r: r["cores"])
        print(f"speed-up local[{few['cores']}] -> local[{many['cores']}]: {few['seconds'] / many['seconds']:.2f}x")
    db = a.work / "spark.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with Store(db) as store:
        import_dir(store, max(runs, key=lambda r: r["cores"])["out"])
    spark_links = links_json(db, a.work / "spark-links.json")
    print("spark vs ingest: " + agreement(ingest_links, spark_links) + "; " + same_texts(a.work / "ingest.db", db))
    for name, links in (("ingest", ingest_links), ("spark", spark_links)):
        print(f"{name} against the truth: " + score(bench, links)[-1])
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
