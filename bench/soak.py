"""Soak benchmark: the memory of a long-running daemon.

``relaywatch run`` runs as a real subprocess against N feeds (default 100) served by this process
on 127.0.0.1. Every minute each feed publishes ``--per-minute`` new entries (default 3), taken in
order from the Reuters repost benchmark (real 1987 Reuters stories from ``../shared/data``, and
copies of them: verbatim, excerpts, edited, relays of relays), so the matcher links real copies
as they appear. A feed shows its 20 latest entries; each entry links to its article page, served
here too, so short entries (excerpts) make the daemon fetch article pages. The daemon polls every
feed once a minute.

The daemon's resident memory (VmRSS, its own process and its worker processes) is sampled every
``--sample`` seconds. At the end the script prints the samples (one line a minute), the warm-up
(the first half of the run) and the last half's range: flat means the last half stays within
10% of its lowest sample.

``--source DIR`` runs the daemon from another checkout's ``daemon/`` folder (e.g. ``git archive
main`` for the count-bounded caches of before) for a baseline taken the same way; ``--budget-mb N``
sets ``[scheduler] fingerprint_cache_mb`` (the default budget, 128 MiB, holds ~20,000 stories:
more than a 20-minute run brings). Memory is flat once every bounded cache is full: the
fingerprints, SQLite's page cache (32 MiB for the writer: the database must outgrow it), the
word hashes of ``detect.fingerprint`` (262,144 words); hence a rate of 12 entries a minute per
feed and a 32 MiB budget in the run reported in docs/benchmarks.md.

    python bench/soak.py [--feeds 100] [--per-minute 12] [--minutes 20] [--budget-mb 32] [--source DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchkit import DATA, ROOT, build, need

SHOWN = 20  # entries in a feed document


class Catalogue:
    """Which entries each feed shows at a given time: entry j goes to feed j % feeds, and is
    published at minute j // (feeds * per_minute) after the start. Entry j is the benchmark's
    entry j % len(entries); past the benchmark's end it comes again under a new guid (a verbatim
    copy, by another feed, of a story seen before)."""

    def __init__(self, entries: list[dict[str, Any]], feeds: int, per_minute: int, start: float) -> None:
        self.entries, self.feeds, self.per_minute, self.start = entries, feeds, per_minute, start

    def released(self, now: float) -> int:
        minute = int((now - self.start) // 60)
        return (minute + 1) * self.feeds * self.per_minute

    def entry(self, j: int) -> dict[str, Any]:
        e = self.entries[j % len(self.entries)]
        again = j // len(self.entries)
        return e if again == 0 else {**e, "guid": f"{e['guid']}-again-{again}"}

    def feed_xml(self, feed: int, port: int, now: float) -> bytes:
        upto = self.released(now)
        mine = list(range(feed, upto, self.feeds))[-SHOWN:]
        items = "".join(self._item(j, port) for j in reversed(mine))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>soak {feed}'
                f'</title><link>http://127.0.0.1:{port}/</link><description>soak</description>{items}'
                "</channel></rss>").encode()

    def _item(self, j: int, port: int) -> str:
        e = self.entry(j)
        when = datetime.fromtimestamp(self.start + 60 * (j // (self.feeds * self.per_minute)), UTC)
        return (f"<item><title>{escape(e['title'])}</title><link>http://127.0.0.1:{port}/a/{j}</link>"
                f"<guid isPermaLink=\"false\">{escape(e['guid'])}</guid><pubDate>{format_datetime(when)}</pubDate>"
                f"<description>{escape(e['html'])}</description></item>")

    def article(self, j: int) -> bytes:
        e = self.entry(j)
        return (f"<!doctype html><html><head><title>{escape(e['title'])}</title></head><body><article>"
                f"<h1>{escape(e['title'])}</h1>{e['html']}</article></body></html>").encode()


def serve(cat: Catalogue) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            port = self.server.server_address[1]
            path = self.path
            if path.startswith("/f/"):
                body, kind = cat.feed_xml(int(path[3:]), port, time.time()), "application/rss+xml"
            elif path.startswith("/a/") and path[3:].isdigit():
                body, kind = cat.article(int(path[3:])), "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_config(folder: Path, feeds: int, port: int, budget_mb: int | None, baseline: bool) -> Path:
    lines = ['[database]', 'path = "soak.db"', '[defaults]', 'interval = "1m"', 'summary_words = 60',
             '[fetch]', 'per_host_delay = 0.0', 'per_host_concurrency = 8']
    if not baseline:
        lines.append("allow_private_networks = true  # the article pages are served on 127.0.0.1")
    lines += ['[scheduler]', 'jitter = 5']
    if budget_mb is not None:
        lines.append(f"fingerprint_cache_mb = {budget_mb}")
    for i in range(feeds):
        role = "wire" if i % 10 == 0 else "outlet"
        lines += ["[[feeds]]", f'name = "soak-{i:03d}"', f'url = "http://127.0.0.1:{port}/f/{i}"',
                  f'role = "{role}"']
    path = folder / "soak.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and of its children (the daemon's worker processes), KiB."""
    total = 0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def own_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stored(db: Path) -> tuple[int, int]:
    """(entries, links) in the database so far."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
            links = conn.execute("SELECT count(*) FROM reposts").fetchone()[0]
        return entries, links
    except sqlite3.Error:
        return 0, 0


def report(samples: list[Sample], label: str) -> None:
    print(f"\n{label}: {len(samples)} samples")
    print("   min   daemon MB  +workers MB  entries  links")
    for t, own, total, entries, links in samples:
        if int(t) % 60 < 10 or (t, own) == samples[-1][:2]:
            print(f"{t / 60:6.1f}  {own / 1024:9.1f}  {total / 1024:11.1f}  {entries:7,}  {links:5,}")
    half = [s for s in samples if s[0] >= samples[-1][0] / 2]
    for name, idx in (("daemon", 1), ("daemon + workers", 2)):
        lo, hi = min(s[idx] for s in half) / 1024, max(s[idx] for s in half) / 1024
        first = next((s[idx] for s in samples if s[0] >= 60), samples[-1][idx]) / 1024
        growth = 100 * (hi - lo) / lo
        verdict = "flat" if growth <= 10 else "NOT flat"
        print(f"{name}: {first:.1f} MB after a minute, {max(s[idx] for s in samples) / 1024:.1f} MB at most; "
              f"last half {lo:.1f}-{hi:.1f} MB (+{growth:.1f}%): {verdict} within 10%")


Sample = tuple[float, int, int, int, int]  # seconds, daemon KiB, daemon + workers KiB, entries, links


def watch(daemon: subprocess.Popen[bytes], folder: Path, minutes: float, every: float) -> list[Sample]:
    """The daemon's memory and the database's rows every ``every`` seconds for ``minutes``."""
    samples: list[Sample] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < minutes * 60:
        if daemon.poll() is not None:
            sys.exit(f"soak: the daemon exited with {daemon.returncode}: {(folder / 'daemon.log').read_text()[-2000:]}")
        entries_n, links_n = stored(folder / "soak.db")
        samples.append((time.monotonic() - t0, own_rss_kib(daemon.pid), rss_kib(daemon.pid), entries_n, links_n))
        if len(samples) % 6 == 1:
            print(f"  {samples[-1][0] / 60:5.1f} min: {samples[-1][1] / 1024:.1f} MB, "
                  f"{entries_n:,} entries, {links_n:,} links", file=sys.stderr, flush=True)
        time.sleep(every)
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--per-minute", type=int, default=12, help="new entries per feed per minute")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--budget-mb", type=int, default=32, help="[scheduler] fingerprint_cache_mb")
    ap.add_argument("--source", type=Path, default=None,
                    help="a checkout whose daemon/ runs instead of this one (a baseline)")
    ap.add_argument("--label", default=None)
    args = ap.parse_args()

    need(DATA / "reuters21578")
    bench = build(Path(tempfile.gettempdir()) / "relaywatch-soak-bench", 4500, 3500, 3)
    entries = [json.loads(line) for line in (bench / "entries.jsonl").read_text(encoding="utf-8").splitlines()]
    start = time.time()
    cat = Catalogue(entries, args.feeds, args.per_minute, start)
    server = serve(cat)
    port = server.server_address[1]
    env = dict(os.environ)
    src = (args.source or ROOT) / "daemon"
    env["PYTHONPATH"] = str(src)
    # a checkout from before the byte-bounded caches: count-bounded, and no key to set them
    baseline = "fingerprint_cache_mb" not in (src / "relaywatch" / "config" / "schema.py").read_text()
    label = args.label or f"{'count-bounded' if baseline else 'byte-bounded'} caches, {src}"
    with tempfile.TemporaryDirectory(prefix="relaywatch-soak-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, args.feeds, port, None if baseline else args.budget_mb, baseline)
        cmd = [sys.executable, "-c", "from relaywatch.cli import main; main()", "--config", str(config), "-q", "run"]
        log = (folder / "daemon.log").open("w")
        daemon = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            samples = watch(daemon, folder, args.minutes, args.sample)
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
            server.shutdown()
        errors = [line for line in (folder / "daemon.log").read_text().splitlines() if "Traceback" in line]
    print(f"soak: {args.feeds} feeds x {args.per_minute} new entries a minute, {args.minutes:g} min, "
          f"fingerprint budget {'(count-bounded cache)' if baseline else args.budget_mb or 'default'}"
          f"{'' if baseline else ' MiB'}; {len(errors)} tracebacks in the daemon's log")
    report(samples, label)


if __name__ == "__main__":
    main()
