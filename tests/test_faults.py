"""Faults and restarts: kill -9 mid-poll, locked, read-only and full databases, skewed clocks."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from relaywatch.config import Config, parse_config
from relaywatch.poll.poller import Poller
from relaywatch.poll.scheduler import Daemon, poll_once
from relaywatch.store import Store

from ._servers import Response, TestServer, rss, send_head
from .conftest import REPO, make_config

_RNG = random.Random(6)
VOCAB = ["".join(_RNG.choice("bcdfghklmnprstvz") + _RNG.choice("aeiou") for _ in range(_RNG.randint(2, 4)))
         for _ in range(3000)]


def story(seed: int, words: int = 140) -> str:
    """A deterministic story of pseudo-words in <p> paragraphs (unique shingles, so matching is exact)."""
    rng = random.Random(seed)
    tokens = [rng.choice(VOCAB) for _ in range(words)]
    paras = [" ".join(tokens[i:i + 35]).capitalize() + "." for i in range(0, words, 35)]
    return "".join(f"<p>{p}</p>" for p in paras)


# -- a world of feeds: one wire, outlets that copy some of its stories ----------------------------

N_OUTLETS = 24
WIRE_STORIES = 10
COPIES_PER_OUTLET = 3
OWN_PER_OUTLET = 4


def wire_items() -> list[tuple[str, str, str]]:
    return [(f"wire-{i}", f"Wire story {i}", story(1000 + i)) for i in range(WIRE_STORIES)]


def outlet_items(n: int) -> list[tuple[str, str, str]]:
    items = []
    for k in range(COPIES_PER_OUTLET):
        src = (n * 7 + k * 3) % WIRE_STORIES
        items.append((f"o{n}-copy{k}", f"Copied {src}", story(1000 + src) + f"<p>Reported by outlet {n}.</p>"))
    for k in range(OWN_PER_OUTLET):
        items.append((f"o{n}-own{k}", f"Own {n}/{k}", story(5000 + n * 100 + k)))
    return items


def serve_world(srv: TestServer, delay: float) -> list[tuple[str, str, str]]:
    """Routes for the wire and the outlets; returns (name, role, url) of each feed."""
    srv.route("/wire.xml", Response(rss(wire_items(), title="Wire"), headers={"Content-Type": "application/rss+xml"}))
    feeds = [("a-wire", "wire", srv.url("/wire.xml"))]
    for n in range(N_OUTLETS):
        body = rss(outlet_items(n), title=f"Outlet {n}")

        def slow(h: BaseHTTPRequestHandler, body: bytes = body) -> None:
            send_head(h, 200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))})
            h.wfile.flush()
            time.sleep(delay)
            h.wfile.write(body)

        feeds.append((f"outlet-{n:02d}", "outlet", srv.route(f"/o{n}.xml", slow)))
    return feeds


def world_config(db: Path, feeds: list[tuple[str, str, str]], workers: int = 3, extra: str = "") -> str:
    text = (f'[database]\npath = "{db}"\n[defaults]\nsummary_words = 0\n'
            f"[fetch]\nper_host_delay = 0\nper_host_concurrency = 16\n[scheduler]\nworkers = {workers}\n{extra}")
    for name, role, url in feeds:
        text += f'[[feeds]]\nname = "{name}"\nurl = "{url}"\nrole = "{role}"\n'
    return text


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _cli(config: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
    return subprocess.Popen([sys.executable, "-m", "relaywatch.cli.main", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_kill_9_mid_poll_then_restart(tmp_path: Path) -> None:
    expected_entries = WIRE_STORIES + N_OUTLETS * (COPIES_PER_OUTLET + OWN_PER_OUTLET)
    with TestServer() as srv:
        feeds = serve_world(srv, delay=0.6)
        # the expected outcome: the same world polled once without interruption, in-process
        ref_db = tmp_path / "reference.db"
        ref_config = parse_config(world_config(ref_db, feeds, workers=6))
        with Store(ref_db) as ref:
            poll_once(ref_config, ref)
            expected_links = ref.count("reposts")
            assert ref.count("entries") == expected_entries
        assert expected_links > 0

        db = tmp_path / "relaywatch.db"
        config = tmp_path / "relaywatch.toml"
        config.write_text(world_config(db, feeds, workers=3))
        proc = _cli(config, "poll", "--once")
        polled = 0
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # kill once some polls are committed, not all
                time.sleep(0.1)
                if db.exists():
                    try:
                        polled = _rows(db, "SELECT count(*) FROM polls")[0][0]  # type: ignore[assignment]
                    except sqlite3.OperationalError:
                        continue
                    if polled >= 4:
                        break
            assert proc.poll() is None, "the poll finished before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        before = set(_rows(db, "SELECT feed_id, guid, content_hash FROM entries"))
        links_before = set(_rows(db, "SELECT original_id, copy_id FROM reposts"))
        polls_before = _rows(db, "SELECT count(*) FROM polls")[0][0]
        assert 4 <= polls_before < len(feeds), polls_before
        assert _rows(db, "PRAGMA integrity_check") == [("ok",)]

        # restart and finish
        proc = _cli(config, "poll", "--once")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert len(out.decode().strip().splitlines()) == len(feeds)

    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]
    after = set(_rows(db, "SELECT feed_id, guid, content_hash FROM entries"))
    assert before <= after, "an entry committed before the kill was lost"
    assert len(after) == expected_entries
    assert _rows(db, "SELECT count(*) FROM entries")[0][0] == expected_entries
    assert _rows(db, "SELECT count(*) FROM (SELECT feed_id, url FROM entries GROUP BY feed_id, url"
                     " HAVING count(*) > 1)")[0][0] == 0
    assert _rows(db, "SELECT count(*) FROM reposts")[0][0] == expected_links
    assert _rows(db, "SELECT count(DISTINCT copy_id) FROM reposts")[0][0] == expected_links
    links_after = set(_rows(db, "SELECT original_id, copy_id FROM reposts"))
    assert {c for _, c in links_before} <= {c for _, c in links_after}
    # every fingerprinted entry has its index rows, and none is orphaned
    assert _rows(db, "SELECT count(*) FROM entries e LEFT JOIN fingerprints f ON f.entry_id = e.id"
                     " WHERE f.entry_id IS NULL")[0][0] == 0
    assert _rows(db, "SELECT count(*) FROM fingerprint_index i LEFT JOIN entries e ON e.id = i.entry_id"
                     " WHERE e.id IS NULL")[0][0] == 0
    assert _rows(db, "SELECT count(*) FROM fingerprint_pending p LEFT JOIN entries e ON e.id = p.entry_id"
                     " WHERE e.id IS NULL")[0][0] == 0
    # ... and each entry's fingerprints are in the index or still waiting to be merged into it
    assert _rows(db, "SELECT count(*) FROM fingerprints f WHERE f.fingerprints > 0"
                     " AND NOT EXISTS (SELECT 1 FROM fingerprint_pending p WHERE p.entry_id = f.entry_id)"
                     " AND NOT EXISTS (SELECT 1 FROM fingerprint_index i WHERE i.entry_id = f.entry_id)")[0][0] == 0
    print(f"\nkill -9: {polls_before} polls committed before the kill, {len(before)} entries kept; after the restart "
          f"{len(after)} entries (expected {expected_entries}), {len(links_after)} reposts (expected "
          f"{expected_links}), integrity ok")


# -- database locked ------------------------------------------------------------------------------

def _hold(db: Path, seconds: float, how: str, started: threading.Event) -> threading.Thread:
    def run() -> None:
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            if how == "writer":
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE feeds SET title = title")
            else:  # a long read transaction (a Datasette query)
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM entries").fetchall()
            started.set()
            time.sleep(seconds)
            conn.execute("COMMIT")
        finally:
            conn.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("how,busy_timeout", [("writer", 30.0), ("writer", 0.2), ("reader", 30.0)])
def test_locked_database_waits_and_retries(tmp_path: Path, how: str, busy_timeout: float) -> None:
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([(f"g{i}", f"T{i}", story(i)) for i in range(5)])))
        config = make_config(tmp_path)
        store = Store(config.database.path, busy_timeout=busy_timeout)
        feed = store.feeds.upsert("f", url, "outlet", (), 1800, "cli")
        started = threading.Event()
        t0 = time.monotonic()
        holder = _hold(Path(config.database.path), 2.5 if how == "writer" else 10.0, how, started)
        assert started.wait(10)
        out = Poller(config, store).poll(feed)
        took = time.monotonic() - t0
        reader_still_reading = holder.is_alive()
        holder.join(30)
        assert out.error is None and out.recorded and out.new_entries == 5
        assert store.feeds.get(feed.id).status == "ok" and store.count("entries") == 5
        if how == "writer":
            assert took >= 2.0  # it waited for the lock instead of failing
        else:
            assert reader_still_reading  # WAL: the poll was written while a reader held its transaction
        store.close()


# -- read-only and full database --------------------------------------------------------------------

@pytest.mark.parametrize("fault,fix,message", [
    ("PRAGMA query_only = 1", "PRAGMA query_only = 0", "readonly"),
    ("max_page_count", "PRAGMA max_page_count = 1000000", "full"),
])
def test_readonly_or_full_database_then_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                 fault: str, fix: str, message: str) -> None:
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([(f"g{i}", f"T{i}", story(i)) for i in range(5)])))
        config = make_config(tmp_path)
        store = Store(config.database.path)
        feed = store.feeds.upsert("f", url, "outlet", (), 1800, "cli")
        poller = Poller(config, store)
        if fault == "max_page_count":  # the file may not grow: what SQLite says when the disk is full
            pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
            store.conn.execute(f"PRAGMA max_page_count = {pages}")
        else:
            store.conn.execute(fault)
        with caplog.at_level(logging.WARNING, logger="relaywatch"):
            out = poller.poll(feed)
        assert out.error and message in out.error and "\n" not in out.error
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors and all("\n" not in r.getMessage() for r in errors)
        assert store.count("entries") == 0
        if out.recorded:  # a full disk may still take the small feed-state update: the error is on the feed
            after = store.feeds.get(feed.id)
            assert after.status == "error" and after.last_error and message in after.last_error
        else:  # nothing could be written: the error is in the log and in the outcome
            assert any("cannot record the poll" in r.getMessage() for r in errors)
            assert store.count("polls") == 0
        assert out.recorded == (fault == "max_page_count")

        out_recorded = int(out.recorded)
        store.conn.execute(fix)
        out = poller.poll(store.feeds.get(feed.id))
        assert out.error is None and out.recorded and out.new_entries == 5
        assert store.feeds.get(feed.id).status == "ok" and store.count("polls") == 1 + out_recorded
        assert store.query("PRAGMA integrity_check") == [{"integrity_check": "ok"}]
        store.close()


def test_chmod_readonly_file_is_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not stop root (see the query_only test)")
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([("g1", "T1", story(1))])))
        config = make_config(tmp_path)
        store = Store(config.database.path)
        feed = store.feeds.upsert("f", url, "outlet", (), 1800, "cli")
        store.close()
        files = list(tmp_path.glob("relaywatch.db*"))
        for p in files:
            p.chmod(0o444)
        try:
            store = Store(config.database.path)
            with caplog.at_level(logging.WARNING, logger="relaywatch"):
                out = Poller(config, store).poll(feed)
            assert out.error and not out.recorded and "\n" not in out.error
            assert any(r.levelno >= logging.ERROR for r in caplog.records)
            store.close()
        finally:
            for p in files:
                p.chmod(0o644)


def test_daemon_does_not_spin_while_database_refuses_writes(tmp_path: Path) -> None:
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([(f"g{i}", f"T{i}", story(i)) for i in range(3)])))
        config: Config = parse_config(
            f'[database]\npath = "{tmp_path / "d.db"}"\n[defaults]\nsummary_words = 0\nmin_interval = "1s"\n'
            f"[fetch]\nper_host_delay = 0\n[scheduler]\njitter = 0\nworkers = 2\n"
            f'[[feeds]]\nname = "f"\nurl = "{url}"\ninterval = "2s"\n')
        store = Store(config.database.path)
        daemon = Daemon(config, store)
        try:
            daemon.start()
            _wait(lambda: store.count("polls") >= 1, 10)
            store.conn.execute("PRAGMA query_only = 1")
            hits = len(srv.hits)
            time.sleep(4.5)
            refused = len(srv.hits) - hits
            assert 1 <= refused <= 4, f"{refused} polls in 4.5 s with a 2 s interval"
            store.conn.execute("PRAGMA query_only = 0")
            polls = store.count("polls")
            _wait(lambda: store.count("polls") > polls, 10)  # recovered: polls recorded again
            assert store.feeds.by_name("f").status == "ok"  # type: ignore[union-attr]
        finally:
            daemon.stop()
            store.close()


def _wait(cond: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {seconds}s")


# -- clock skew ---------------------------------------------------------------------------------------

def test_clock_skew_flagged_and_lags_sane(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with TestServer() as srv:
        wire = [("w-future", "Future", story(1)), ("w-ok", "Ok", story(2)), ("w-epoch", "Epoch", story(3))]
        srv.route("/wire.xml", Response(rss(wire, pub_dates=[
            "Sat, 01 Jan 2050 00:00:00 GMT", (now - timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Thu, 01 Jan 1970 00:00:00 GMT"])))
        copies = [("c-future", "Future", story(1)), ("c-ok", "Ok", story(2)), ("c-epoch", "Epoch", story(3))]
        srv.route("/copy.xml", Response(rss(copies, pub_dates=[
            (now - timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 2100 00:00:00 GMT"])))
        config = make_config(tmp_path)
        store = Store(config.database.path)
        w = store.feeds.upsert("wire", srv.url("/wire.xml"), "wire", (), 1800, "cli")
        c = store.feeds.upsert("copier", srv.url("/copy.xml"), "outlet", (), 1800, "cli")
        poller = Poller(config, store)
        assert poller.poll(w).error is None
        assert poller.poll(c).error is None
        flags = dict(store.conn.execute("SELECT guid, date_flag FROM entries").fetchall())
        assert flags == {"w-future": "future", "w-ok": None, "w-epoch": "ancient",
                         "c-future": None, "c-ok": "ancient", "c-epoch": "future"}
        raw = dict(store.conn.execute("SELECT guid, published_raw FROM entries WHERE date_flag IS NOT NULL"))
        assert all(raw.values())  # the untrusted date is kept as written
        assert store.conn.execute("SELECT count(*) FROM entries WHERE date_flag IS NOT NULL"
                                  " AND published IS NOT NULL").fetchone()[0] == 0
        rows = store.query("SELECT o.guid AS original, c.guid AS copy, r.lag_seconds AS lag FROM reposts r"
                           " JOIN entries o ON o.id = r.original_id JOIN entries c ON c.id = r.copy_id")
        assert {(r["original"], r["copy"]) for r in rows} == {("w-future", "c-future"), ("w-ok", "c-ok"),
                                                              ("w-epoch", "c-epoch")}
        for r in rows:  # lags from trusted dates or first-seen times: never decades, never far negative
            assert -86400 < r["lag"] < 86400, r
        store.close()
