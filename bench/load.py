"""Load benchmark: the real scheduler (``relaywatch.poll.scheduler.Daemon``) against N local feeds.

A child process serves N feeds (default 2,000, 20 entries each) from threaded HTTP servers on
loopback addresses 127.0.0.1 ... 127.0.0.H (H hosts, so per-host politeness is exercised as it
would be on the web; nothing leaves the machine). A share of the feeds answer 304 (their ETag is
known to the daemon before it starts), a share answer 500, a share never answer in time (the
daemon cuts them at ``fetch.total_timeout``) and a share are slow. About one entry in ten copies
a story of a shared pool, so the matcher has real reposts to find.

The daemon runs in this process; the figures are about it alone: feeds polled per second, time
until every feed was polled once (target < 60 s), p50/p99 poll latency (``polls.duration_ms``),
peak RSS, CPU time, and whether any feed was starved (never polled in the window).

    python bench/load.py [--feeds 2000] [--entries 20] [--hosts 100] [--workers 32] [--limit 180]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import random
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "daemon"))

from relaywatch.config import parse_config  # noqa: E402
from relaywatch.poll.scheduler import Daemon, sync_feeds  # noqa: E402
from relaywatch.runtime import tune_gc  # noqa: E402
from relaywatch.store import Store  # noqa: E402

SHARE_304 = 0.10
SHARE_500 = 0.05
SHARE_TIMEOUT = 0.01
SHARE_SLOW = 0.05
STORY_POOL = 400


def kind_of(i: int) -> str:
    """What feed i does, deterministically."""
    r = random.Random(i * 7919).random()
    if r < SHARE_304:
        return "304"
    r -= SHARE_304
    if r < SHARE_500:
        return "500"
    r -= SHARE_500
    if r < SHARE_TIMEOUT:
        return "timeout"
    r -= SHARE_TIMEOUT
    if r < SHARE_SLOW:
        return "slow"
    return "ok"


_VOCAB_RNG = random.Random(42)
VOCAB = ["".join(_VOCAB_RNG.choice("bcdfghklmnprstvz") + _VOCAB_RNG.choice("aeiou")
                 for _ in range(_VOCAB_RNG.randint(2, 4))) for _ in range(5000)]


def story(seed: int, words: int) -> str:
    rng = random.Random(seed)
    tokens = [rng.choice(VOCAB) for _ in range(words)]
    return "".join("<p>" + " ".join(tokens[i:i + 40]).capitalize() + ".</p>" for i in range(0, words, 40))


def feed_xml(i: int, entries: int) -> bytes:
    rng = random.Random(i)
    items = []
    for k in range(entries):
        if rng.random() < 0.1:
            body = story(10_000_000 + rng.randrange(STORY_POOL), 180) + f"<p>Carried by feed {i}.</p>"
        else:
            body = story(i * 1000 + k, rng.randint(120, 320))
        items.append(f"<item><guid isPermaLink=\"false\">f{i}-e{k}</guid><title>Story {k} of feed {i}</title>"
                     f"<link>http://127.0.0.1/f{i}/e{k}</link>"
                     f"<pubDate>Fri, 27 Nov 2026 {k % 24:02d}:00:00 GMT</pubDate>"
                     f"<description><![CDATA[{body}]]></description></item>")
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Feed {i}</title>"
            f"<link>http://127.0.0.1/f{i}</link>{''.join(items)}</channel></rss>").encode()


# -- the server process ---------------------------------------------------------------------------

def serve(hosts: list[str], feeds: int, entries: int, ports: Any, ready: Any, stop: Any, cpu: Any) -> None:
    # every body made before the clock starts: the server's own work stays out of the figures
    cache: dict[int, bytes] = {i: feed_xml(i, entries) for i in range(feeds) if kind_of(i) not in ("500", "timeout")}
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class name
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            try:
                i = int(self.path.strip("/").split(".")[0][1:])
            except ValueError:
                self.send_error(404)
                return
            kind = kind_of(i)
            if kind == "500":
                self._reply(500, b"internal error")
                return
            if kind == "timeout":
                time.sleep(60)  # bounded: the daemon has long given up
                return
            if kind == "304" and self.headers.get("If-None-Match") == f'"f{i}"':
                self._reply(304, b"", {"ETag": f'"f{i}"'})
                return
            if kind == "slow":
                time.sleep(2 + (i % 4))
            with lock:
                body = cache.get(i)
            if body is None:
                body = feed_xml(i, entries)
                with lock:
                    cache[i] = body
            self._reply(200, body, {"Content-Type": "application/rss+xml", "ETag": f'"f{i}"'})

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)

    class S(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512

    servers = []
    for n, host in enumerate(hosts):
        srv = S((host, 0), H)
        ports[n] = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    ready.set()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    stop.wait(3600)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu[0], cpu[1] = usage.ru_utime + usage.ru_stime - cpu0, usage.ru_utime + usage.ru_stime  # window, all
    for srv in servers:
        srv.shutdown()


def loopback_hosts(n: int) -> list[str]:
    hosts = []
    for k in range(1, n + 1):
        host = f"127.0.0.{k}"
        try:
            with socket.socket() as s:
                s.bind((host, 0))
        except OSError:
            break
        hosts.append(host)
    return hosts or ["127.0.0.1"]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--hosts", type=int, default=100, help="loopback addresses serving the feeds")
    ap.add_argument("--workers", type=int, default=32, help="scheduler.workers")
    ap.add_argument("--per-host-delay", type=float, default=1.0)
    ap.add_argument("--total-timeout", type=float, default=10.0)
    ap.add_argument("--limit", type=float, default=180.0, help="seconds before giving up")
    ap.add_argument("--no-second-round", dest="second_round", action="store_false",
                    help="stop after every feed was polled once")
    ap.add_argument("--db", help="database file (default: a temporary directory)")
    args = ap.parse_args(argv)

    hosts = loopback_hosts(args.hosts)
    ctx = mp.get_context("fork")
    ports = ctx.Array("i", len(hosts))
    ready, stop = ctx.Event(), ctx.Event()
    server_cpu = ctx.Array("d", 2)
    server = ctx.Process(target=serve, args=(hosts, args.feeds, args.entries, ports, ready, stop, server_cpu),
                         daemon=True)
    server.start()
    if not ready.wait(600):
        print("the feed server did not start", file=sys.stderr)
        return 1

    tmp = tempfile.TemporaryDirectory(prefix="relaywatch-bench-")
    db = args.db or str(Path(tmp.name) / "bench.db")
    lines = [f'[database]\npath = "{db}"\n[defaults]\ninterval = "1h"\n',
             f"[fetch]\nper_host_delay = {args.per_host_delay}\ntotal_timeout = {args.total_timeout}\n"
             f"read_timeout = {args.total_timeout}\n",
             f"[scheduler]\nworkers = {args.workers}\njitter = 0\n"]
    for i in range(args.feeds):
        n = i % len(hosts)
        lines.append(f'[[feeds]]\nname = "feed-{i:05d}"\nurl = "http://{hosts[n]}:{ports[n]}/f{i}.xml"\n')
    config = parse_config("".join(lines), "bench.toml")
    kinds = {f"feed-{i:05d}": kind_of(i) for i in range(args.feeds)}

    store = Store(db)
    for feed in sync_feeds(config, store):  # the daemon already knows the ETag of the 304 share
        if kinds[feed.name] == "304":
            store.feeds.save_state(replace(feed, etag=f'"f{int(feed.name[5:])}"'))

    tune_gc()  # as `relaywatch run` does
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    daemon = Daemon(config, store)
    daemon.start()
    all_polled: float | None = None
    reader = Store(db, migrate=False)
    try:
        while time.monotonic() - t0 < args.limit:
            time.sleep(0.5)
            polled = reader.query("SELECT count(DISTINCT feed_id) AS n FROM polls")[0]["n"]
            if polled >= args.feeds:
                all_polled = time.monotonic() - t0
                break
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        second: float | None = None
        if all_polled is not None and args.second_round:
            # steady state: every feed due again at once; the bodies are unchanged (or 304)
            base = reader.query("SELECT max(id) AS m FROM polls")[0]["m"]
            t1 = time.monotonic()
            now = datetime.now(UTC)
            for feed in reader.feeds.list():
                with contextlib.suppress(Exception):  # feeds in backoff keep their own time
                    if feed.status == "ok":
                        daemon.scheduler.modify_job(f"feed-{feed.id}", next_run_time=now)
            due = sum(1 for f in reader.feeds.list() if f.status == "ok")
            while time.monotonic() - t1 < args.limit:
                time.sleep(0.25)
                n = reader.query("SELECT count(DISTINCT feed_id) AS n FROM polls WHERE id > ?", [base])[0]["n"]
                if n >= due:
                    second = time.monotonic() - t1
                    break
            cpu2 = resource.getrusage(resource.RUSAGE_SELF)
            cpu_second = (cpu2.ru_utime - cpu1.ru_utime) + (cpu2.ru_stime - cpu1.ru_stime)
    finally:
        daemon.stop()
    stop.set()
    server.join(10)
    # the daemon's worker processes (feedparser, text, fingerprints) have exited: their CPU time
    # is in this process's children's usage, with the server's, measured apart
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = children.ru_utime + children.ru_stime - server_cpu[1]

    first = reader.query("SELECT p.feed_id, p.duration_ms, p.http_status, p.error, p.new_entries, p.links"
                         " FROM polls p WHERE p.id = (SELECT min(id) FROM polls q WHERE q.feed_id = p.feed_id)")
    durations = [r["duration_ms"] for r in first]
    polled_ids = {r["feed_id"] for r in first}
    starved = [f.name for f in reader.feeds.list() if f.id not in polled_ids and f.source == "config"]
    status_counts: dict[str, int] = {}
    for r in first:
        key = str(r["http_status"]) if r["http_status"] else ("timeout" if "timed out" in (r["error"] or "")
                                                               else "error")
        status_counts[key] = status_counts.get(key, 0) + 1
    entries = reader.count("entries")
    links = reader.count("reposts")
    reader.close()
    store.close()

    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    rss_mb = cpu1.ru_maxrss / 1024
    done = all_polled if all_polled is not None else wall
    print(f"feeds: {args.feeds} x {args.entries} entries on {len(hosts)} loopback hosts; "
          f"workers {args.workers}, per-host delay {args.per_host_delay:g}s, total timeout {args.total_timeout:g}s")
    print(f"responses (first poll): {dict(sorted(status_counts.items()))}")
    print(f"time until all polled once: {f'{all_polled:.1f}s' if all_polled is not None else 'NOT REACHED'}"
          f" (target < 60 s)")
    print(f"feeds polled per second: {len(polled_ids) / done:.1f}")
    print(f"poll latency: p50 {percentile(durations, 50):.0f} ms, p99 {percentile(durations, 99):.0f} ms, "
          f"mean {statistics.fmean(durations) if durations else float('nan'):.0f} ms")
    print(f"entries stored: {entries}, reposts found: {links}")
    print(f"peak RSS: {rss_mb:.0f} MB (target < 300 MB); CPU: {cpu:.1f}s in {wall:.1f}s wall "
          f"({cpu / wall * 100:.0f}% of one core)")
    print(f"entries per CPU second: {entries / cpu:.0f}" if cpu else "")
    print(f"CPU of the daemon's worker processes (parsing, text, fingerprints), both rounds: {workers_cpu:.1f}s; "
          f"of the feed server (not the daemon): {server_cpu[0]:.1f}s")
    if second is not None:
        print(f"second round (all {due} healthy feeds due at once, content unchanged or 304): {second:.1f}s, "
              f"{due / second:.0f} feeds/s, {cpu_second:.1f}s CPU")
    print(f"feeds never polled within the {args.limit:g}s window (starved): {len(starved)}"
          + (f" e.g. {starved[:5]}" if starved else ""))
    tmp.cleanup()
    return 0 if all_polled is not None and not starved else 1


if __name__ == "__main__":
    sys.exit(main())
