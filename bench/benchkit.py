"""What the benchmarks share: building the Reuters repost benchmark, ingesting it, scoring it.

The benchmark data and tools live beside the checkout (``../shared/``); nothing here is committed
data. Every figure comes from relaywatch's real pipeline writing a real SQLite file.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TOOLS = SHARED / "tools"
DATA = SHARED / "data"
sys.path.insert(0, str(ROOT / "daemon"))

from relaywatch.poll.archive import IngestReport, default_workers, ingest_file, load_feed_specs  # noqa: E402
from relaywatch.report.tables import reposts  # noqa: E402
from relaywatch.runtime import tune_gc  # noqa: E402
from relaywatch.store import Store  # noqa: E402


def need_bench_extra() -> None:
    """The baselines use datasketch, which only the ``bench`` extra installs: say so in one line."""
    try:
        import datasketch  # noqa: F401
    except ImportError:
        sys.exit("bench: datasketch is missing (the baseline needs it): pip install -e '.[bench]'")


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"bench: {path} is absent (the shared corpora and tools sit beside the checkout)")
    return path


def load_generator() -> Any:
    """The shared generator (``../shared/tools/make_reuse_bench.py``) as a module: its Reuters
    loader and helpers."""
    spec = importlib.util.spec_from_file_location("make_reuse_bench", need(TOOLS / "make_reuse_bench.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(out: Path, originals: int, copies: int, seed: int) -> Path:
    """Run the benchmark generator once per (originals, copies, seed); reuse its output."""
    if not (out / "truth.jsonl").exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(need(TOOLS / "make_reuse_bench.py")), str(out),
                        "--originals", str(originals), "--copies", str(copies), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
    return out


@dataclass
class Run:
    seconds: float
    entries: int
    report: IngestReport
    peak_rss_mb: float
    cpu_main: float = 0.0     # CPU seconds (user + system) of the ingesting process: matching, SQLite
    cpu_workers: float = 0.0  # of its worker processes: text and fingerprints

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest(db: Path, bench: Path, workers: int | None = None) -> Run:
    """Ingest ``bench/entries.jsonl`` into a fresh database at ``db`` (``workers``: as `relaywatch ingest`,
    by default one process fewer than the cores)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    specs = load_feed_specs(bench / "feeds.json")
    tune_gc()  # as `relaywatch ingest` does
    with Store(db) as store:
        main0, workers0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        report = ingest_file(store, bench / "entries.jsonl", specs,
                             workers=default_workers() if workers is None else workers)
        seconds = time.perf_counter() - t
        cpu_main = _cpu(resource.RUSAGE_SELF) - main0
        cpu_workers = _cpu(resource.RUSAGE_CHILDREN) - workers0  # the pool has ended: its children are counted
    return Run(seconds, report.counts.new, report, peak_rss_mb(), cpu_main, cpu_workers)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def links_json(db: Path, out: Path) -> Path:
    """What ``relaywatch reposts --json`` prints, written to ``out``."""
    with Store(db) as store:
        out.write_text(json.dumps(reposts(store)), encoding="utf-8")
    return out


def score(bench: Path, links: Path) -> list[str]:
    """The shared scorer's output lines."""
    done = subprocess.run([sys.executable, str(need(TOOLS / "score_reuse_bench.py")), str(bench), str(links)],
                          check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()
